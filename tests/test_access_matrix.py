"""Who may open what: every URL of the site, for anonymous, member, other, moderator, staff.

Each route of the URLconf has an entry in ``MATRIX`` (or a reason in
``NOT_IN_MATRIX``) with the status each kind of visitor gets for a GET and,
where the route takes form posts, for a POST of an empty form. A route added
without an entry fails ``test_every_route_has_an_entry``, which lists what to add.

The people (``world``):

- *member*: Ana, who owns what the paths name (her note, her notification,
  her conversation with Ben, her report about Ben);
- *other*: Ben, another member, who may not see Ana's own things;
- *moderator*: Mo, in the "Moderators" group;
- *staff*: Stella, ``is_staff`` (staff are moderators too).

Expected statuses: a number, or ``LOGIN`` for a redirect to the login page
(with ``?next=`` back), or ``REDIRECT`` for a redirect anywhere else.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from chatspheres.accounts.models import Interest, User
from chatspheres.calls.models import Conversation
from chatspheres.calls.services import conversation_end, conversation_start
from chatspheres.connections.models import Note, Plan
from chatspheres.moderation.models import Appeal, Decision
from chatspheres.moderation.tokens import notice_token
from chatspheres.notifications.models import Notification
from chatspheres.notifications.unsubscribe import unsubscribe_token
from chatspheres.safety.models import Report
from chatspheres.spheres.models import Sphere
from tests.conftest import make_member

ROLES = ("anonymous", "member", "other", "moderator", "staff")
LOGIN = "login"
REDIRECT = "redirect"
Expected = int | str


@dataclass(frozen=True)
class Entry:
    """A route's path (``{names}`` filled from the world) and the expected statuses per role."""

    path: str
    get: tuple[Expected, Expected, Expected, Expected, Expected]
    post: tuple[Expected, Expected, Expected, Expected, Expected] | None = None


def row(
    anonymous: Expected, member: Expected, other: Expected, moderator: Expected, staff: Expected
) -> tuple[Expected, Expected, Expected, Expected, Expected]:
    return (anonymous, member, other, moderator, staff)


def everyone(status: Expected) -> tuple[Expected, Expected, Expected, Expected, Expected]:
    return (status,) * 5


def members(status: Expected) -> tuple[Expected, Expected, Expected, Expected, Expected]:
    """Anonymous visitors are sent to log in; every signed-in person gets ``status``."""
    return (LOGIN, status, status, status, status)


R = REDIRECT
MATRIX: dict[str, Entry] = {
    # Open to everyone ---------------------------------------------------------
    "": Entry("/", get=everyone(200)),
    "spheres/": Entry("/spheres/", get=everyone(200)),
    "spheres/<slug:slug>/": Entry("/spheres/{sphere}/", get=everyone(200)),
    "guidelines/": Entry("/guidelines/", get=everyone(200), post=everyone(405)),
    "terms/": Entry("/terms/", get=everyone(200), post=everyone(405)),
    "privacy/": Entry("/privacy/", get=everyone(200), post=everyone(405)),
    "contact/": Entry("/contact/", get=everyone(200), post=everyone(405)),
    # Accounts (allauth): signed-in people are sent on from login and sign-up.
    "accounts/login/": Entry(
        "/accounts/login/", get=row(200, R, R, R, R), post=row(200, R, R, R, R)
    ),
    "accounts/signup/": Entry(
        "/accounts/signup/", get=row(200, R, R, R, R), post=row(200, R, R, R, R)
    ),
    "accounts/logout/": Entry(
        "/accounts/logout/", get=row(R, 200, 200, 200, 200), post=everyone(R)
    ),
    "accounts/email/": Entry("/accounts/email/", get=members(200), post=members(R)),
    "accounts/confirm-email/": Entry(
        "/accounts/confirm-email/", get=everyone(200), post=everyone(405)
    ),
    "accounts/password/change/": Entry(
        "/accounts/password/change/", get=members(200), post=members(200)
    ),
    "accounts/password/reset/": Entry(
        "/accounts/password/reset/", get=everyone(200), post=everyone(200)
    ),
    "accounts/password/reset/done/": Entry(
        "/accounts/password/reset/done/", get=everyone(200), post=everyone(405)
    ),
    # The admin: its own login sends everyone to the site's (which counts failures).
    "admin/login/": Entry("/admin/login/", get=everyone(R), post=everyone(R)),
    # A member's own pages --------------------------------------------------------
    "profile/": Entry("/profile/", get=members(200), post=members(200)),
    "profile/data/": Entry("/profile/data/", get=members(200), post=members(405)),
    "profile/delete/": Entry("/profile/delete/", get=members(200), post=members(200)),
    "prompts/profile/": Entry("/prompts/profile/", get=members(405), post=members(R)),
    "welcome/": Entry("/welcome/", get=members(200), post=members(200)),
    "welcome/spheres/": Entry("/welcome/spheres/", get=members(200), post=members(200)),
    "welcome/start/": Entry("/welcome/start/", get=members(200), post=members(200)),
    # Messages: a thread is reached only by the other person's handle, from one's own side.
    "messages/": Entry("/messages/", get=members(200), post=members(405)),
    "messages/m/unread/": Entry("/messages/m/unread/", get=members(200), post=members(405)),
    "messages/settings/": Entry("/messages/settings/", get=members(405), post=members(R)),
    "messages/m/<int:message_id>/report/": Entry(
        "/messages/m/{message}/report/",
        get=row(LOGIN, 200, 404, 404, 404),
        post=row(LOGIN, 400, 404, 404, 404),
    ),
    "messages/<slug:handle>/": Entry(
        "/messages/{ben}/", get=row(LOGIN, 200, 404, 404, 404), post=members(405)
    ),
    "messages/<slug:handle>/older/": Entry(
        "/messages/{ben}/older/", get=row(LOGIN, 200, 404, 404, 404), post=members(405)
    ),
    "messages/<slug:handle>/send/": Entry(
        "/messages/{ben}/send/", get=members(405), post=row(LOGIN, 400, 404, 404, 404)
    ),
    "messages/<slug:handle>/read/": Entry(
        "/messages/{ben}/read/", get=members(405), post=row(LOGIN, R, 404, 404, 404)
    ),
    "notifications/": Entry("/notifications/", get=members(200), post=members(405)),
    "notifications/panel/": Entry("/notifications/panel/", get=members(200), post=members(405)),
    "notifications/unread/": Entry("/notifications/unread/", get=members(200), post=members(405)),
    "notifications/read/": Entry("/notifications/read/", get=members(405), post=members(R)),
    "notifications/preferences/": Entry(
        "/notifications/preferences/", get=members(405), post=members(R)
    ),
    # Ana's notification: nobody else's to mark.
    "notifications/unsubscribe/<str:token>/": Entry(
        "/notifications/unsubscribe/{unsubscribe}/", get=everyone(200), post=everyone(200)
    ),
    "notifications/<int:notification_id>/read/": Entry(
        "/notifications/{notification}/read/", get=members(405), post=row(LOGIN, R, 404, 404, 404)
    ),
    "people/": Entry("/people/", get=members(200), post=members(405)),
    # Spheres: any signed-in person may join, leave and watch.
    "spheres/<slug:slug>/join/": Entry(
        "/spheres/{sphere}/join/", get=members(405), post=members(R)
    ),
    "spheres/<slug:slug>/leave/": Entry(
        "/spheres/{sphere}/leave/", get=members(405), post=members(R)
    ),
    "spheres/<slug:slug>/watch/": Entry(
        "/spheres/{sphere}/watch/", get=members(405), post=members(R)
    ),
    # The call page is for the sphere's members (Ana, Ben); others are sent to the sphere.
    "spheres/<slug:slug>/call/": Entry(
        "/spheres/{sphere}/call/", get=row(LOGIN, 200, 200, R, R), post=row(LOGIN, 200, 200, R, R)
    ),
    # Another person (Ben): only people who met him see his page and act on
    # him; to Ben himself it is his own page; strangers get 404, not "forbidden".
    "people/<slug:handle>/": Entry(
        "/people/{ben}/", get=row(LOGIN, 200, R, 404, 404), post=members(405)
    ),
    "people/<slug:handle>/follow/": Entry(
        "/people/{ben}/follow/", get=members(405), post=row(LOGIN, R, R, 404, 404)
    ),
    "people/<slug:handle>/unfollow/": Entry(
        "/people/{ben}/unfollow/", get=members(405), post=row(LOGIN, R, R, 404, 404)
    ),
    "people/<slug:handle>/talk-again/": Entry(
        "/people/{ben}/talk-again/", get=members(405), post=row(LOGIN, R, R, 404, 404)
    ),
    "people/<slug:handle>/talk-again/withdraw/": Entry(
        "/people/{ben}/talk-again/withdraw/", get=members(405), post=row(LOGIN, R, R, 404, 404)
    ),
    "people/<slug:handle>/notes/": Entry(
        "/people/{ben}/notes/", get=members(405), post=row(LOGIN, R, R, 404, 404)
    ),
    # Ana's private note about Ben: hers alone, moderators included.
    "people/<slug:handle>/notes/<int:note_id>/": Entry(
        "/people/{ben}/notes/{note}/", get=members(405), post=row(LOGIN, R, 404, 404, 404)
    ),
    "people/<slug:handle>/notes/<int:note_id>/delete/": Entry(
        "/people/{ben}/notes/{note}/delete/", get=members(405), post=row(LOGIN, R, 404, 404, 404)
    ),
    # Plans: only the two of a plan reach it, each by the other's handle.
    "people/<slug:handle>/plans/new/": Entry(
        "/people/{ben}/plans/new/",
        get=row(LOGIN, R, 404, 404, 404),
        post=row(LOGIN, R, 404, 404, 404),
    ),
    "people/<slug:handle>/plans/<slug:public_id>/": Entry(
        "/people/{ben}/plans/{plan}/", get=row(LOGIN, 200, 404, 404, 404), post=members(405)
    ),
    "people/<slug:handle>/plans/<slug:public_id>/accept/": Entry(
        "/people/{ben}/plans/{plan}/accept/", get=members(405), post=row(LOGIN, R, 404, 404, 404)
    ),
    "people/<slug:handle>/plans/<slug:public_id>/suggest/": Entry(
        "/people/{ben}/plans/{plan}/suggest/",
        get=row(LOGIN, 200, 404, 404, 404),
        post=row(LOGIN, 400, 404, 404, 404),
    ),
    "people/<slug:handle>/plans/<slug:public_id>/cancel/": Entry(
        "/people/{ben}/plans/{plan}/cancel/", get=members(405), post=row(LOGIN, R, 404, 404, 404)
    ),
    "people/<slug:handle>/plans/<slug:public_id>/calendar.ics": Entry(
        "/people/{ben}/plans/{plan}/calendar.ics",
        get=row(LOGIN, 200, 404, 404, 404),
        post=members(405),
    ),
    "people/<slug:handle>/plans/<slug:public_id>/join/": Entry(
        "/people/{ben}/plans/{plan}/join/", get=row(LOGIN, R, 404, 404, 404), post=members(405)
    ),
    "people/<slug:handle>/plans/<slug:public_id>/part/": Entry(
        "/people/{ben}/plans/{plan}/part/", get=row(LOGIN, 200, 404, 404, 404), post=members(405)
    ),
    "people/<slug:handle>/after/<slug:public_id>/": Entry(
        "/people/{ben}/after/{conversation}/", get=row(LOGIN, 200, 404, 404, 404), post=members(405)
    ),
    "safety/block/<slug:handle>/": Entry(
        "/safety/block/{ben}/",
        get=row(LOGIN, 200, 404, 404, 404),
        post=row(LOGIN, R, 404, 404, 404),
    ),
    "safety/unblock/<slug:handle>/": Entry(
        "/safety/unblock/{ben}/", get=members(405), post=row(LOGIN, R, 404, 404, 404)
    ),
    "safety/report/<slug:handle>/": Entry(
        "/safety/report/{ben}/",
        get=row(LOGIN, 200, 404, 404, 404),
        post=row(LOGIN, 400, 404, 404, 404),
    ),
    "call/<slug:handle>/": Entry(
        "/call/{ben}/", get=row(LOGIN, R, 404, 404, 404), post=row(LOGIN, R, 404, 404, 404)
    ),
    "call/answer/<slug:ring>/": Entry(
        "/call/answer/not-a-ring/", get=members(404), post=members(404)
    ),
    # Ana and Ben's conversation (ended): theirs only.
    "conversations/<slug:public_id>/reflection/": Entry(
        "/conversations/{conversation}/reflection/",
        get=members(405),
        post=row(LOGIN, 400, 400, 404, 404),
    ),
    "conversations/<slug:public_id>/ice/": Entry(
        "/conversations/{conversation}/ice/", get=members(405), post=members(404)
    ),
    # Moderation: moderators and staff; members are refused in words (403).
    "moderation/": Entry(
        "/moderation/", get=row(LOGIN, 403, 403, 200, 200), post=row(LOGIN, 403, 403, 405, 405)
    ),
    "moderation/reports/<int:report_id>/": Entry(
        "/moderation/reports/{report}/",
        get=row(LOGIN, 403, 403, 200, 200),
        post=row(LOGIN, 403, 403, 200, 200),
    ),
    "moderation/appeals/<int:appeal_id>/": Entry(
        "/moderation/appeals/{appeal}/",
        get=row(LOGIN, 403, 403, 200, 200),
        post=row(LOGIN, 403, 403, 200, 200),
    ),
    "moderation/log/": Entry(
        "/moderation/log/", get=row(LOGIN, 403, 403, 200, 200), post=row(LOGIN, 403, 403, 405, 405)
    ),
    # The moderator approves first; then the name no longer waits (404 for staff).
    "moderation/interests/<int:interest_id>/approve/": Entry(
        "/moderation/interests/{interest}/approve/",
        get=row(LOGIN, 403, 403, 405, 405),
        post=row(LOGIN, 403, 403, R, 404),
    ),
    "moderation/interests/<int:interest_id>/reject/": Entry(
        "/moderation/interests/{interest}/reject/",
        get=row(LOGIN, 403, 403, 405, 405),
        post=row(LOGIN, 403, 403, R, 404),
    ),
    # A decision's notice opens with its signed link alone: a banned person cannot log in.
    "moderation/notice/<str:token>/": Entry(
        "/moderation/notice/{notice}/", get=everyone(200), post=everyone(200)
    ),
}

# Routes left out, and why. Keys are routes as the URLconf spells them.
NOT_IN_MATRIX: dict[str, str] = {}

# allauth's pages: those ChatSpheres links to are in the matrix; these are
# flows it does not use, or pages reached only with a key from an email.
ALLAUTH_LEFT_OUT = {
    "accounts/inactive/": "no inactive-account flow is linked; allauth's own page",
    "accounts/reauthenticate/": "allauth's own step before sensitive changes",
    "accounts/password/set/": "accounts always have a password",
    "accounts/login/code/confirm/": "login by code is off",
    "accounts/^confirm-email/(?P<key>[-:\\w]+)/$": "reached with a key from an email",
    "accounts/^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$": (
        "reached with a key from an email"
    ),
    "accounts/password/reset/key/done/": "allauth's page after a reset by key",
}


def routes(
    patterns: list[Any] | None = None, prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, str]]:
    """(route, namespace) for every URL pattern, the way the URLconf spells the route."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(part for part in (namespace, pattern.namespace or "") if part)
            yield from routes(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), namespace


def routes_to_check() -> list[str]:
    """Every route but the admin's own pages and the allauth flows left out."""
    found = []
    for route, namespace in routes():
        if namespace == "admin" or route in ALLAUTH_LEFT_OUT or route in NOT_IN_MATRIX:
            continue
        if route not in found:
            found.append(route)
    return found


# The people and the things the paths name --------------------------------


@dataclass
class World:
    people: dict[str, User]
    values: dict[str, Any]

    def path(self, template: str) -> str:
        return template.format(**self.values)


def moderators() -> Group:
    group, _ = Group.objects.get_or_create(name="Moderators")
    return group


@pytest.fixture
def world(db: None, sphere: Sphere) -> World:
    ana = make_member("ana@example.com", name="Ana", spheres=(sphere,))
    ben = make_member("ben@example.com", name="Ben", spheres=(sphere,))
    mo = make_member("mo@example.com", name="Mo")
    mo.groups.add(moderators())
    stella = make_member("stella@example.com", name="Stella")
    stella.is_staff = True
    stella.save(update_fields=["is_staff"])

    conversation = conversation_start(
        sphere_id=sphere.pk,
        a_user_id=ana.pk,
        a_tab="tab-ana",
        b_user_id=ben.pk,
        b_tab="tab-ben",
        shared_interests=[],
    )
    conversation_end(conversation=conversation, by_user_id=ana.pk, reason="ended")
    note = Note.objects.create(author=ana, about=ben, text="Plays the cello.")
    notification = Notification.objects.create(
        recipient=ana, kind=Notification.Kind.NEW_FOLLOWER, actor=ben
    )
    # A name Ana typed: private to her until a moderator approves it.
    interest = Interest.objects.create(name="knitting", approved=False, suggested_by=ana)
    ana.profile.interests.add(interest)
    values: dict[str, Any] = {
        "sphere": sphere.slug,
        "ana": ana.profile.handle,
        "ben": ben.profile.handle,
        "conversation": conversation.public_id,
        "note": note.pk,
        "notification": notification.pk,
        "interest": interest.pk,
    }
    from chatspheres.messaging.services import message_send

    values["message"] = message_send(
        sender_id=ben.pk, handle=ana.profile.handle, body="Hello Ana", client_key="matrix-key-1"
    ).message.pk
    # A call Ana and Ben agreed on, which Ben asks to move.
    values["plan"] = (
        Plan.objects.create(
            first=ana,
            second=ben,
            state=Plan.State.CONFIRMED,
            starts_at=timezone.now() + timedelta(days=2),
            options=[(timezone.now() + timedelta(days=3)).replace(microsecond=0).isoformat()],
            proposed_by=ben,
        )
    ).public_id
    values.update(moderation_things(ana=ana, ben=ben, mo=mo, conversation=conversation))
    return World(
        people={"member": ana, "other": ben, "moderator": mo, "staff": stella}, values=values
    )


def moderation_things(
    *, ana: User, ben: User, mo: User, conversation: Conversation
) -> dict[str, Any]:
    """Ana's report about Ben, a warning decided on it, Ben's appeal, and the link to its notice."""
    report = Report.objects.create(
        reporter=ana,
        subject=ben,
        subject_label="Ben",
        reason=Report.Reason.HARASSMENT,
        details="He kept insulting me.",
        conversation=conversation,
        sphere=conversation.sphere,
    )
    decision = Decision.objects.create(
        report=report, subject=ben, moderator=mo, action="warn", statement="Insults."
    )
    appeal = Appeal.objects.create(decision=decision, appellant=ben, text="I did not.")
    return {
        "report": report.pk,
        "appeal": appeal.pk,
        "notice": notice_token(decision.pk),
        # The signed link in Ana's emails: it works for whoever opens it.
        "unsubscribe": unsubscribe_token(user_id=ana.pk, kind=Notification.Kind.NEW_FOLLOWER),
    }


# Asking -------------------------------------------------------------------


def client_for(world: World, role: str) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(world.people[role])
    return client


def outcome(response: Any, path: str) -> Expected:
    """What a visitor got, in the matrix's terms."""
    if response.status_code in (301, 302, 303):
        location = response["Location"]
        if location.startswith("/accounts/login/") and "next=" in location:
            return LOGIN
        return REDIRECT
    return int(response.status_code)


def observe(world: World, entry: Entry) -> dict[str, dict[str, Expected]]:
    """Each role's outcome for a GET and (if the entry has one) an empty POST.

    The member goes last: a POST may change what the others would see.
    """
    path = world.path(entry.path)
    seen: dict[str, dict[str, Expected]] = {"get": {}, "post": {}}
    for role in ("anonymous", "other", "moderator", "staff", "member"):
        client = client_for(world, role)
        seen["get"][role] = outcome(client.get(path), path)
        if entry.post is not None:
            seen["post"][role] = outcome(client.post(path, {}), path)
    return seen


def table(expected: tuple[Expected, ...]) -> dict[str, Expected]:
    return dict(zip(ROLES, expected, strict=True))


@pytest.mark.parametrize("route", list(MATRIX))
def test_each_visitor_gets_the_expected_answer(route: str, world: World) -> None:
    entry = MATRIX[route]
    seen = observe(world, entry)
    assert seen["get"] == table(entry.get), f"GET {entry.path}"
    if entry.post is not None:
        assert seen["post"] == table(entry.post), f"POST {entry.path}"


def test_every_route_has_an_entry() -> None:
    missing = [route for route in routes_to_check() if route not in MATRIX]
    assert not missing, (
        "These routes have no entry in tests/test_access_matrix.py MATRIX (add one each, "
        "with the status for anonymous, member, other, moderator, staff; or a reason in "
        "NOT_IN_MATRIX; test_probe prints what each gets now):\n  " + "\n  ".join(missing)
    )


@pytest.mark.urls("tests.common.urls")
def test_a_route_added_without_an_entry_is_named() -> None:
    # That URLconf is the site's plus three views that exist only for tests.
    missing = [route for route in routes_to_check() if route not in MATRIX]
    assert [route for route in missing if route.startswith("test-only/")] == [
        "test-only/limited/",
        "test-only/broken/",
        "test-only/forbidden/",
    ]


def test_every_entry_is_a_route() -> None:
    existing = set(routes_to_check())
    stale = [route for route in MATRIX if route not in existing]
    assert not stale, "MATRIX names routes the URLconf no longer has:\n  " + "\n  ".join(stale)


@pytest.mark.skipif(not os.environ.get("ACCESS_MATRIX_PROBE"), reason="only to draft entries")
def test_probe(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """Print what each visitor gets now, for each route's path in the JSON file named.

    To draft entries: ACCESS_MATRIX_PROBE=paths.json, paths.json being
    {"<route>": "<path with {names}>", ...}.
    """
    import json
    from pathlib import Path

    drafts = json.loads(Path(os.environ["ACCESS_MATRIX_PROBE"]).read_text())
    with capsys.disabled():
        for route, path in drafts.items():
            seen = observe(world, Entry(path=path, get=everyone(0), post=everyone(0)))
            print(route, "|", path)
            for method in ("get", "post"):
                print("   ", method, [seen[method][role] for role in ROLES])
