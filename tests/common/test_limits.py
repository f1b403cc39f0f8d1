"""Limits: allauth's on login (the admin's login included), ours on the socket, per real address."""

from __future__ import annotations

import html
import json
import logging
import re
import types
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from typing import Any

import pytest
from django.test import Client

from chatspheres.accounts.models import User
from chatspheres.common import ratelimit
from chatspheres.common.cache import LimitsRedisCache
from chatspheres.common.ratelimit import RateLimited, rate_limit_hit, wait_in_words
from chatspheres.spheres.models import Sphere
from tests.conftest import LiveServer, make_member
from tests.realtime.wsclient import Tab

PASSWORD = "a-long-test-password"
WRONG = "not-the-password"
NOT_CORRECT = "The email address and/or password you specified are not correct."
LOCKED = "Too many failed login attempts. Try again later."


def log_in(client: Client, email: str, password: str, next_url: str = "") -> str:
    query = f"?next={urllib.parse.quote(next_url)}" if next_url else ""
    response = client.post(f"/accounts/login/{query}", {"login": email, "password": password})
    return response.content.decode() if response.status_code == 200 else ""


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.django_db
def test_login_locks_after_five_wrong_passwords_even_for_the_right_one(client: Client) -> None:
    make_member("ana@example.com")
    for _ in range(5):
        assert NOT_CORRECT in log_in(client, "ana@example.com", WRONG)
    assert LOCKED in log_in(client, "ana@example.com", PASSWORD)
    assert not signed_in(client)


def test_allauth_keeps_its_limits_on_login_sign_up_and_password_reset() -> None:
    from allauth.account import app_settings

    limits = app_settings.RATE_LIMITS
    for action in ("login", "login_failed", "signup", "reset_password", "reset_password_from_key"):
        assert limits.get(action), action


@pytest.mark.django_db
def test_allauths_own_429_is_our_page_with_a_wait(client: Client, settings: Any) -> None:
    settings.ACCOUNT_RATE_LIMITS = {"signup": "1/m/ip"}
    client.post("/accounts/signup/", {"email": "a@example.com"})
    response = client.post("/accounts/signup/", {"email": "b@example.com"})
    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    page = response.content.decode()
    assert "<h1>Slow down a little</h1>" in page
    assert "Please try again in 1 minute." in page


@pytest.mark.django_db
def test_another_name_of_the_site_does_not_give_more_tries(client: Client) -> None:
    make_member("ana@example.com")
    for _ in range(5):
        response = client.post(
            "/accounts/login/",
            {"login": "ana@example.com", "password": WRONG},
            headers={"Host": "127.0.0.1"},
        )
        assert NOT_CORRECT in response.content.decode()
    response = client.post(
        "/accounts/login/",
        {"login": "ana@example.com", "password": PASSWORD},
        headers={"Host": "localhost"},
    )
    assert LOCKED in response.content.decode()


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (3, "a few seconds"),
        (45, "45 seconds"),
        (61, "2 minutes"),
        (3570, "1 hour"),
        (7201, "3 hours"),
    ],
)
def test_the_wait_is_said_the_way_a_person_says_it(seconds: int, words: str) -> None:
    assert wait_in_words(seconds) == words


@pytest.mark.django_db
def test_the_admin_login_sends_staff_to_the_site_login_keeping_where_they_were_going(
    client: Client,
) -> None:
    assert client.get("/admin/")["Location"] == "/admin/login/?next=/admin/"
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/admin/"

    User.objects.create_superuser(email="root@example.com", password=PASSWORD)
    response = client.post(
        "/accounts/login/?next=/admin/", {"login": "root@example.com", "password": PASSWORD}
    )
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_fifteen_wrong_passwords_at_the_admin_login_do_not_get_around_the_lockout(
    client: Client,
) -> None:
    User.objects.create_superuser(email="root@example.com", password=PASSWORD)
    answers = []
    for _ in range(15):
        # The admin's own form is never reached: every post is sent to the site's login...
        response = client.post(
            "/admin/login/?next=/admin/", {"username": "root@example.com", "password": WRONG}
        )
        assert response.status_code == 302
        assert response["Location"] == "/accounts/login/?next=/admin/"
        # ...where the guess is counted.
        answers.append(log_in(client, "root@example.com", WRONG, next_url="/admin/"))
    assert [NOT_CORRECT in answer for answer in answers] == [True] * 5 + [False] * 10
    assert all(LOCKED in answer for answer in answers[5:])

    client.post("/admin/login/", {"username": "root@example.com", "password": PASSWORD})
    assert LOCKED in log_in(client, "root@example.com", PASSWORD, next_url="/admin/")
    assert not signed_in(client)
    assert client.get("/admin/").status_code == 302


# Over a real server: which address a limit counts -------------------------


def failed_logins_from_forged_addresses(server: LiveServer, attempts: int) -> list[str]:
    """Wrong passwords for different addresses, each claiming another client address."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{server.url}/accounts/login/", timeout=10).read().decode()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert match is not None
    answers = []
    for number in range(attempts):
        form = urllib.parse.urlencode(
            {
                "csrfmiddlewaretoken": match[1],
                "login": f"person{number}@example.com",
                "password": WRONG,
            }
        ).encode()
        request = urllib.request.Request(  # noqa: S310 (our own test server)
            f"{server.url}/accounts/login/",
            data=form,
            headers={"X-Forwarded-For": f"203.0.113.{number + 1}"},
        )
        with opener.open(request, timeout=10) as response:
            answers.append(html.unescape(response.read().decode()))
    return answers


def test_a_forged_forwarded_address_from_loopback_does_not_escape_the_address_limit(
    live_server: LiveServer,
) -> None:
    # allauth allows 10 failed logins a minute per address, whatever the email.
    answers = failed_logins_from_forged_addresses(live_server, 11)
    assert all(NOT_CORRECT in answer for answer in answers[:10])
    assert LOCKED in answers[10]


@pytest.fixture
def behind_a_trusted_proxy(settings: Any) -> None:
    settings.TRUSTED_PROXIES = ["127.0.0.1"]


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_one_counted(
    behind_a_trusted_proxy: None, live_server: LiveServer
) -> None:
    answers = failed_logins_from_forged_addresses(live_server, 11)
    assert all(NOT_CORRECT in answer for answer in answers)


def first_frame_or_close(server: LiveServer, member: User, forwarded_for: str) -> str | int:
    """Open a socket claiming a client address: its first frame's type, or the close code."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    from tests.conftest import session_cookie

    with connect(
        server.ws_url,
        origin=server.origin,  # type: ignore[arg-type]
        additional_headers={"Cookie": session_cookie(member), "X-Forwarded-For": forwarded_for},
        open_timeout=10,
    ) as socket:
        try:
            return str(json.loads(socket.recv(timeout=10))["type"])
        except ConnectionClosed as closed:
            assert closed.rcvd is not None
            return closed.rcvd.code


def test_forged_forwarded_addresses_do_not_escape_the_handshake_limit(
    live_server: LiveServer, sphere: Sphere, settings: Any
) -> None:
    settings.REALTIME_HANDSHAKES_PER_MINUTE = 3
    ana = make_member("ana@example.com", spheres=(sphere,))
    answers = [
        first_frame_or_close(live_server, ana, f"198.51.100.{number}") for number in range(4)
    ]
    assert answers == ["ready", "ready", "ready", 4029]


# Our own limits -------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The limits' clock stands 15 seconds into an hour (and so into a minute)."""
    monkeypatch.setattr(ratelimit, "time", types.SimpleNamespace(time=lambda: 3600 * 483_334 + 15))


def test_joining_the_queue_too_often_is_refused_on_the_socket_with_the_wait_in_words(
    clock: None, settings: Any, live_server: LiveServer, sphere: Sphere
) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "queue_join": "2/m"}
    ana = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    for _ in range(2):
        ana.send({"type": "queue.join", "sphere": sphere.pk})
        ana.receive_type("queue.waiting")
        ana.send({"type": "queue.leave"})
        ana.receive_type("queue.left")
    ana.send({"type": "queue.join", "sphere": sphere.pk})
    assert ana.receive_type("error") == {
        "type": "error",
        "code": "rate_limited",
        "message": "You've done that too often. Please try again in 45 seconds.",
    }
    ana.close()


def test_every_process_counts_against_one_limit_through_redis(
    clock: None, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.redis_support import delete_prefix, shared_redis_url, unique_prefix

    url, prefix = shared_redis_url(), unique_prefix()
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "report": "2/h"}
    # Two caches configured as settings.CACHES does with REDIS_URL: two processes.
    first, second = (LimitsRedisCache(url, {"KEY_PREFIX": f"{prefix}cache"}) for _ in range(2))
    try:
        monkeypatch.setattr(ratelimit, "cache", first)
        rate_limit_hit(action="report", key=7)
        monkeypatch.setattr(ratelimit, "cache", second)
        rate_limit_hit(action="report", key=7)
        with pytest.raises(RateLimited) as refused:
            rate_limit_hit(action="report", key=7)
        assert refused.value.retry_after == 3600 - 15
        assert refused.value.message == "You've done that too often. Please try again in 1 hour."
    finally:
        delete_prefix(url, prefix)


# Nobody answers on port 1: Redis is away.
REDIS_AWAY = {
    "BACKEND": "chatspheres.common.cache.LimitsRedisCache",
    "LOCATION": "redis://127.0.0.1:1/0",
    "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
}


def test_while_redis_is_away_nothing_is_counted_and_one_warning_says_so(
    settings: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "report": "2/h"}
    monkeypatch.setattr(LimitsRedisCache, "_warned_at", float("-inf"))
    monkeypatch.setattr(ratelimit, "cache", LimitsRedisCache(REDIS_AWAY["LOCATION"], REDIS_AWAY))
    with caplog.at_level(logging.WARNING, logger="chatspheres.common.cache"):
        for _ in range(5):
            rate_limit_hit(action="report", key=7)  # never RateLimited
    assert [record.getMessage().split(":")[0] for record in caplog.records] == [
        "Redis does not answer; limits are not counted meanwhile"
    ]


@pytest.mark.django_db
def test_while_redis_is_away_members_can_still_log_in(client: Client, settings: Any) -> None:
    settings.CACHES = {"default": REDIS_AWAY}
    make_member("ana@example.com")
    assert NOT_CORRECT in log_in(client, "ana@example.com", WRONG)
    response = client.post("/accounts/login/", {"login": "ana@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert signed_in(client)
