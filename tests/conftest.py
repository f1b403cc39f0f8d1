"""Fixtures shared by every test: members, and a real server on a free port."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from asgiref.sync import SyncToAsync
from django.db import DEFAULT_DB_ALIAS, connections
from django.test import Client

from chatspheres.accounts.models import User
from chatspheres.accounts.services import profile_create, profile_update
from chatspheres.common.events import Captured, capture
from chatspheres.server import free_port, uvicorn_config
from chatspheres.spheres.models import Sphere
from chatspheres.spheres.services import sphere_join, sphere_upsert
from tests.mailsink import MailSink
from tests.taskqueue import LaterTasks


@dataclass
class LiveServer:
    url: str
    host: str
    port: int

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws/"

    @property
    def origin(self) -> str:
        return self.url


@pytest.fixture(autouse=True)
def _static_files_from_the_source(settings: Any) -> None:
    """Pages name static files plainly, served from the source folders.

    A manifest that ``make run`` left in the var folder would otherwise point
    pages at the copies collected then, older than the code under test.
    tests/common/test_static_files.py tests the collected, hashed files.
    """
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _tasks_run_at_once(settings: Any) -> Iterator[None]:
    """A task runs inside the call that enqueues it; one for later waits (tests/taskqueue.py).

    ``later_tasks`` shows the waiting ones and runs them; a test of the queue
    itself sets the database backend and drains it.
    """
    from tests.taskqueue import ImmediateOrLaterBackend

    ImmediateOrLaterBackend.held.clear()
    settings.TASKS = {"default": {"BACKEND": "tests.taskqueue.ImmediateOrLaterBackend"}}
    yield
    ImmediateOrLaterBackend.held.clear()


@pytest.fixture
def later_tasks() -> LaterTasks:
    """The tasks enqueued with ``run_after`` in this test, held until ``run_due`` runs them."""
    return LaterTasks()


@pytest.fixture
def smtp_sink(settings: Any) -> Iterator[MailSink]:
    """A real SMTP server on a loopback port, as the site's mail server for this test.

    What arrives is parsed (headers, text and HTML parts): see tests/mailsink.py.
    """
    sink = MailSink().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = sink.host
    settings.EMAIL_PORT = sink.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Members made in tests get a cheap password hash (PBKDF2 costs most of a second each).

    Every hasher still checks what it made; only the hashing of new passwords is cheap.
    """
    from django.conf import global_settings

    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        *global_settings.PASSWORD_HASHERS,
    ]


@pytest.fixture(autouse=True)
def _fresh_limits() -> Iterator[None]:
    """Each test starts with no limit counted: the cache (ours and allauth's counts) is emptied."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _live_server_helper() -> Iterator[None]:
    """Replaces pytest-django's helper of the same name, which expects its own live_server."""
    yield


@pytest.fixture
def live_server(
    request: pytest.FixtureRequest, transactional_db: None, settings: Any
) -> Iterator[LiveServer]:
    """The whole app (pages and /ws/) served by uvicorn in a thread, as `make run` serves it.

    Parametrized indirectly with "asgi", it serves /ws/ with uvicorn's plain
    WebSocket protocol instead, so every frame takes the ASGI route; with
    "redis", its hub and matcher live in the shared test Redis (under a key
    prefix of the test's own), as when the site runs on several processes.
    """
    variant = getattr(request, "param", None)
    if variant == "redis":
        from tests.redis_support import delete_prefix, shared_redis_url, unique_prefix

        settings.REDIS_URL = shared_redis_url()
        settings.REDIS_KEY_PREFIX = unique_prefix()
        request.addfinalizer(
            lambda url=settings.REDIS_URL, prefix=settings.REDIS_KEY_PREFIX: delete_prefix(
                url, prefix
            )
        )
    sock = free_port()
    host, port = sock.getsockname()
    overrides = {"ws": "websockets-sansio"} if variant == "asgi" else {}
    server = uvicorn.Server(uvicorn_config(host=host, port=port, log_level="warning", **overrides))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(500):  # bounded wait for start-up, about 10 s at most
        if server.started or not thread.is_alive():
            break
        threading.Event().wait(0.02)
    if not server.started:
        pytest.fail("the test server did not start")
    try:
        yield LiveServer(url=f"http://{host}:{port}", host=host, port=port)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        # The gateway's database calls run on asgiref's one thread for
        # thread-sensitive code, which keeps its connection between calls;
        # close it there, or PostgreSQL cannot drop the test database.
        SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=15)


def make_member(
    email: str,
    *,
    name: str | None = None,
    interests: tuple[str, ...] = (),
    spheres: tuple[Sphere, ...] = (),
    bio: str = "",
) -> User:
    """A member with a profile, interests and memberships, made through the services."""
    user = User.objects.create_user(email=email, password="a-long-test-password")
    profile = profile_create(
        user=user, display_name=name or email.split("@")[0].title(), adult_confirmed=True
    )
    profile_update(
        profile=profile,
        display_name=profile.display_name,
        bio=bio,
        interests=interests,
        time_zone="Europe/Paris",
    )
    for sphere in spheres:
        sphere_join(user=user, sphere=sphere)
    return user


def session_cookie(user: User) -> str:
    """The Cookie header a browser signed in as ``user`` would send."""
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


@pytest.fixture
def sent_events(db: None) -> Iterator[Captured]:
    """The real-time events services send in the test, captured without a server.

    The test's transaction never commits, so the on-commit callbacks that
    would send events wait; reading what was sent runs those registered so
    far, exactly as a commit would (callbacks of rolled-back blocks are gone).
    """
    connection = connections[DEFAULT_DB_ALIAS]
    done = len(connection.run_on_commit)

    def run_pending() -> None:
        nonlocal done
        while done < len(connection.run_on_commit):
            _savepoints, callback, _robust = connection.run_on_commit[done]
            done += 1
            callback()

    with capture() as captured:
        captured.before_read = run_pending
        yield captured


@pytest.fixture
def sphere(db: None) -> Sphere:
    return sphere_upsert(
        slug="book-club", name="Book Club", tagline="Books.", description="Talk about books."
    )
