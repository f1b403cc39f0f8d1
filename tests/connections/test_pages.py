"""People and a person's page, through the real URLs: what they say, and to whom."""

from __future__ import annotations

import pytest
from django.test import Client

from chatspheres.accounts.models import User
from chatspheres.connections.selectors import (
    HISTORY_PER_PAGE,
    PEOPLE_PER_PAGE,
    visible_presence,
)
from chatspheres.connections.services import follow_create, talk_again_wish
from chatspheres.spheres.models import Sphere
from chatspheres.spheres.services import sphere_upsert
from tests.conftest import make_member
from tests.connections.helpers import set_last_seen, set_online, talk, text_of, without_tokens

pytestmark = pytest.mark.django_db


def connect(a: User, b: User) -> None:
    talk_again_wish(wisher_id=a.pk, about_id=b.pk)
    talk_again_wish(wisher_id=b.pk, about_id=a.pk)


@pytest.fixture
def ana() -> User:
    return make_member(
        "ana@example.com", name="Ana", bio="I run marathons.", interests=("running",)
    )


@pytest.fixture
def ben() -> User:
    return make_member("ben@example.com", name="Ben")


def test_a_persons_page_shows_name_bio_interests_stage_and_history(
    client: Client, sphere: Sphere, ana: User, ben: User
) -> None:
    for days in (20, 10, 3):
        talk(sphere, ana, ben, a_rating="good", b_rating="good", days_ago=days)
    client.force_login(ben)
    page = text_of(client.get("/people/ana/").content)
    assert "Ana" in page and "@ana" in page
    assert "I run marathons." in page and "running" in page
    assert "Familiar face" in page
    assert "3 good conversations · 2 more to Friend" in page
    assert "You've talked 3 times, last on" in page and "in Book Club." in page
    html = client.get("/people/ana/").content.decode()
    assert 'max="5" value="3"' in html  # the bar, labelled by the stage's name


def test_a_persons_page_is_404_to_strangers_exactly_like_a_missing_handle(
    client: Client, sphere: Sphere, ana: User, ben: User
) -> None:
    stranger = make_member("zoe@example.com", name="Zoe")
    talk(sphere, ana, ben)
    client.force_login(stranger)
    hidden = client.get("/people/ana/")
    missing = client.get("/people/nobody-has-this/")
    assert hidden.status_code == missing.status_code == 404
    # The 404 page is in the site's layout, whose logout form has a fresh CSRF token.
    assert without_tokens(hidden.content) == without_tokens(missing.content)
    # Every address under the person answers the same.
    for path in ("follow/", "talk-again/", "notes/", "unfollow/", "talk-again/withdraw/"):
        assert without_tokens(client.post(f"/people/ana/{path}").content) == without_tokens(
            client.post(f"/people/nobody-has-this/{path}").content
        )


def test_following_opens_the_page_and_the_own_handle_leads_to_the_profile(
    client: Client, sphere: Sphere, ana: User, ben: User
) -> None:
    talk(sphere, ana, ben)
    follow_create(follower_id=ben.pk, followee_id=ana.pk)
    cleo = make_member("cleo@example.com", name="Cleo")
    client.force_login(cleo)
    assert client.get("/people/ana/").status_code == 404
    client.force_login(ben)
    assert client.get("/people/ana/").status_code == 200
    client.force_login(ana)
    response = client.get("/people/ana/")
    assert response.status_code == 302 and response["Location"] == "/profile/"
    assert client.get("/people/ANA/").status_code == 302  # handles are lower case


def test_people_lists_connections_following_followers_and_history(
    client: Client, sphere: Sphere, ana: User, ben: User
) -> None:
    cleo = make_member("cleo@example.com", name="Cleo")
    talk(sphere, ana, ben, a_rating="good", b_rating="okay")
    talk(sphere, cleo, ana, a_rating="good")
    connect(ana, ben)
    follow_create(follower_id=ana.pk, followee_id=cleo.pk)
    follow_create(follower_id=cleo.pk, followee_id=ana.pk)
    client.force_login(ana)
    page = text_of(client.get("/people/").content)
    for title in ("Connections", "Following", "Followers", "People you've talked with"):
        assert title in page
    assert "Book Club · You said: Good" in page  # Ana's own rating with Ben
    assert "Not rated" in page  # Ana did not rate Cleo
    html = client.get("/people/").content.decode()
    connections = html[html.index('id="connections"') : html.index('id="following"')]
    following = html[html.index('id="following"') : html.index('id="followers"')]
    followers = html[html.index('id="followers"') : html.index('id="history"')]
    assert "Ben" in connections and "Cleo" not in connections
    assert "Cleo" in following and "Ben" not in following
    assert "Cleo" in followers
    assert 'href="/people/"' in client.get("/").content.decode()  # People in the navigation


def test_history_is_paginated(client: Client, sphere: Sphere, ana: User) -> None:
    others = [
        make_member(f"m{n}@example.com", name=f"Member {n}") for n in range(HISTORY_PER_PAGE + 2)
    ]
    for n, other in enumerate(others):
        talk(sphere, ana, other, days_ago=30 - n)
    client.force_login(ana)
    first = client.get("/people/").content.decode()
    newest, oldest = f">Member {HISTORY_PER_PAGE + 1}</a>", ">Member 0</a>"
    assert newest in first and oldest not in first
    assert "Page 1" in text_of(first.encode()) and 'href="?history=2#history">Older' in first
    second = client.get("/people/?history=2").content.decode()
    assert oldest in second and newest not in second
    assert 'href="?history=1#history">Newer' in second and ">Older<" not in second


def test_a_quiet_connection_gets_a_nudge_with_call_now_when_online(
    client: Client, sphere: Sphere, ana: User, ben: User
) -> None:
    talk(sphere, ana, ben, days_ago=15)
    connect(ana, ben)
    client.force_login(ben)
    page = text_of(client.get("/people/").content)
    assert "It's been 2 weeks since you talked with Ana" in page
    assert "Call now" not in page
    set_online(ana, sphere)
    html = client.get("/people/").content.decode()
    assert "Call now" in text_of(html.encode())
    assert 'href="/call/ana/"' in html
    # A recent conversation is no reason for a nudge.
    talk(sphere, ana, ben)
    assert "since you talked with" not in text_of(client.get("/people/").content)


def test_call_now_on_a_persons_page_only_for_an_online_connection(
    client: Client, sphere: Sphere, ana: User, ben: User
) -> None:
    talk(sphere, ana, ben)
    set_online(ana, sphere)
    client.force_login(ben)
    assert "Call now" not in text_of(client.get("/people/ana/").content)
    connect(ana, ben)
    page = text_of(client.get("/people/ana/").content)
    assert "Call now" in page and "Online now in Book Club" in page
    ana.profile.presence_visible_to = "nobody"
    ana.profile.save()
    page = text_of(client.get("/people/ana/").content)
    assert "Call now" not in page and "Online now" not in page


@pytest.mark.parametrize(
    ("setting", "ben_sees", "cleo_sees", "dev_sees"),
    [
        # Ben: connected; Cleo: Ana follows her; Dev: only talked with Ana.
        ("connections", True, False, False),
        ("following", False, True, False),
        ("nobody", False, False, False),
    ],
)
def test_presence_respects_the_members_setting(
    client: Client,
    sphere: Sphere,
    ana: User,
    ben: User,
    setting: str,
    ben_sees: bool,
    cleo_sees: bool,
    dev_sees: bool,
) -> None:
    cleo, dev = make_member("cleo@example.com"), make_member("dev@example.com")
    for other in (ben, cleo, dev):
        talk(sphere, ana, other)
    connect(ana, ben)
    follow_create(follower_id=ana.pk, followee_id=cleo.pk)
    ana.profile.presence_visible_to = setting
    ana.profile.save()
    set_online(ana, sphere)
    for viewer, sees in ((ben, ben_sees), (cleo, cleo_sees), (dev, dev_sees)):
        assert (
            visible_presence(viewer_id=viewer.pk, user_ids=[ana.pk])[ana.pk] is not None
        ) is sees
        client.force_login(viewer)
        for path in ("/people/", "/people/ana/"):
            assert ("Online now in Book Club" in text_of(client.get(path).content)) is sees
    set_last_seen(ana, days_ago=2)
    client.force_login(ben)
    assert ("Last seen 2 days ago" in text_of(client.get("/people/ana/").content)) is ben_sees


def test_people_pages_each_list_on_its_own(client: Client, sphere: Sphere, ana: User) -> None:
    others = [
        make_member(f"f{n}@example.com", name=f"Friend {n}") for n in range(PEOPLE_PER_PAGE + 1)
    ]
    for other in others:
        talk(sphere, ana, other)
        connect(ana, other)
    client.force_login(ana)
    html = client.get("/people/").content.decode()
    assert "?connections=2#connections" in html
    second = client.get("/people/?connections=2&history=1").content.decode()
    assert "history=1&amp;connections=1#connections" in second


def test_the_people_page_needs_a_login(client: Client) -> None:
    response = client.get("/people/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_sphere_name_is_shown_where_they_last_talked(
    client: Client, sphere: Sphere, ana: User, ben: User
) -> None:
    chess = sphere_upsert(slug="chess", name="Chess", tagline="", description="")
    talk(sphere, ana, ben, days_ago=5)
    talk(chess, ana, ben, days_ago=1)
    client.force_login(ana)
    assert "You've talked 2 times, last on" in text_of(client.get("/people/ben/").content)
    assert "in Chess." in text_of(client.get("/people/ben/").content)
