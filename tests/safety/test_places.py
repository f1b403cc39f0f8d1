"""Block and Report wherever a page names a person: notifications, messages, a planned call.

Each page offers them for someone the member has talked with, never for
someone blocked either way, for themselves, or for a person the words do not
name (someone waiting, a moderator).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from chatspheres.accounts.models import User
from chatspheres.connections.plans import plan_propose
from chatspheres.notifications.models import Notification
from chatspheres.notifications.services import notification_send
from chatspheres.safety.models import Block
from chatspheres.safety.services import block_create
from chatspheres.spheres.models import Sphere
from tests.conftest import make_member
from tests.connections.helpers import connect, handle_of, talk, text_of
from tests.messaging.helpers import send

pytestmark = pytest.mark.django_db

Kind = Notification.Kind


@pytest.fixture
def ana(sphere: Sphere) -> User:
    return make_member("ana@example.com", name="Ana", spheres=(sphere,))


@pytest.fixture
def ben(sphere: Sphere, ana: User) -> User:
    """Ana's connection: they talked and both want to talk again."""
    ben = make_member("ben@example.com", name="Ben", spheres=(sphere,))
    connect(sphere, ana, ben)
    return ben


@pytest.fixture
def cleo(sphere: Sphere, ana: User) -> User:
    """Someone Ana talked with once."""
    cleo = make_member("cleo@example.com", name="Cleo", spheres=(sphere,))
    talk(sphere, ana, cleo)
    return cleo


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def offers(page: str, name: str) -> bool:
    """Whether a page's words offer both actions for this person."""
    return f"Report {name}" in page and f"Block {name}" in page


def test_the_notifications_page_offers_block_and_report_for_the_person_each_names(
    sphere: Sphere, ana: User, ben: User, cleo: User
) -> None:
    stranger = make_member("dan@example.com", name="Dan")
    notification_send(recipient_id=ana.pk, kind=Kind.NEW_FOLLOWER, actor_id=ben.pk)
    notification_send(recipient_id=ana.pk, kind=Kind.MISSED_RING, actor_id=cleo.pk)
    notification_send(recipient_id=ana.pk, kind=Kind.NEW_FOLLOWER, actor_id=stranger.pk)
    notification_send(
        recipient_id=ana.pk, kind=Kind.SOMEONE_WAITING, actor_id=cleo.pk, sphere_id=sphere.pk
    )
    block_create(blocker_id=cleo.pk, blocked_id=ana.pk)  # silent: Ana is not told
    page = text_of(signed_in(ana).get(reverse("notifications:list")).content)
    assert "Ben followed you" in page and "You missed a call from Cleo" in page
    assert offers(page, "Ben") and "Send report" in page
    # Cleo blocked Ana; Dan is no one Ana has met; "someone is waiting" names no one.
    assert "Block Cleo" not in page and "Report Cleo" not in page
    assert "Block Dan" not in page and "Report Dan" not in page


def test_the_header_panel_stays_compact_and_links_to_the_person(ana: User, ben: User) -> None:
    notification_send(recipient_id=ana.pk, kind=Kind.NEW_FOLLOWER, actor_id=ben.pk)
    panel = signed_in(ana).get(reverse("notifications:panel")).content
    assert "Ben followed you" in text_of(panel)
    assert "Block Ben" not in text_of(panel)
    person = reverse("connections:person", kwargs={"handle": handle_of(ben)})
    assert f'href="{person}"' in panel.decode()


def test_a_notification_about_oneself_offers_nothing(ana: User) -> None:
    notification_send(recipient_id=ana.pk, kind=Kind.NEW_FOLLOWER, actor_id=ana.pk)
    page = text_of(signed_in(ana).get(reverse("notifications:list")).content)
    assert "Block" not in page.replace("Blocked", "") and "Report" not in page


def test_several_rows_about_one_person_have_no_duplicate_ids(ana: User, ben: User) -> None:
    for kind in (Kind.NEW_FOLLOWER, Kind.CONNECTION_MADE, Kind.STAGE_REACHED):
        notification_send(recipient_id=ana.pk, kind=kind, actor_id=ben.pk)
    html = signed_in(ana).get(reverse("notifications:list")).content.decode()
    rows = Notification.objects.filter(recipient=ana, actor=ben).count()  # connected, too
    assert text_of(html.encode()).count("Block Ben") == rows == 4
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_blocking_from_the_notifications_page_without_javascript_comes_back_to_it(
    ana: User, ben: User
) -> None:
    notification_send(recipient_id=ana.pk, kind=Kind.NEW_FOLLOWER, actor_id=ben.pk)
    client = signed_in(ana)
    listing = reverse("notifications:list")
    html = client.get(listing).content.decode()
    block_url = reverse("safety:block", kwargs={"handle": handle_of(ben)})
    assert f'action="{block_url}"' in html and f'name="next" value="{listing}"' in html
    assert "Block Ben?" in text_of(client.get(block_url, {"next": listing}).content)
    done = client.post(block_url, {"next": listing}, follow=True)
    assert done.redirect_chain[-1][0] == listing
    after = text_of(done.content)
    assert "You blocked Ben. They won't be told." in after and "Block Ben" not in after
    assert Block.objects.filter(blocker=ana, blocked=ben).exists()


def test_a_message_thread_and_the_list_of_threads_offer_them_for_the_other_person(
    ana: User, ben: User, cleo: User
) -> None:
    send(ben, ana, "Hello from Ben")
    send(cleo, ana, "Hello from Cleo")
    client = signed_in(ana)
    thread = text_of(client.get(reverse("messaging:thread", args=[handle_of(ben)])).content)
    assert offers(thread, "Ben") and "Send report" in thread
    assert "Block Ana" not in thread and "Report Ana" not in thread
    inbox = text_of(client.get(reverse("messaging:inbox")).content)
    assert offers(inbox, "Ben") and offers(inbox, "Cleo")
    block_create(blocker_id=ana.pk, blocked_id=cleo.pk)
    inbox = text_of(client.get(reverse("messaging:inbox")).content)
    assert offers(inbox, "Ben") and "Cleo" not in inbox


def test_blocking_from_a_thread_without_javascript_lands_on_the_messages_list(
    ana: User, ben: User
) -> None:
    send(ben, ana, "Hello from Ben")
    client = signed_in(ana)
    thread_url = reverse("messaging:thread", args=[handle_of(ben)])
    html = client.get(thread_url).content.decode()
    inbox = reverse("messaging:inbox")
    assert f'name="next" value="{inbox}"' in html  # the thread itself is gone once blocked
    done = client.post(
        reverse("safety:block", kwargs={"handle": handle_of(ben)}), {"next": inbox}, follow=True
    )
    assert done.redirect_chain[-1][0] == inbox
    assert "You blocked Ben. They won't be told." in text_of(done.content)
    assert client.get(thread_url).status_code == 404


def test_a_planned_calls_page_offers_them_for_the_other_person(ana: User, ben: User) -> None:
    day = (timezone.now() + timedelta(days=3)).astimezone(UTC)
    times = [datetime(day.year, day.month, day.day, 13, tzinfo=UTC)]
    plan = plan_propose(proposer_id=ana.pk, other_id=ben.pk, times=times)
    url = reverse(
        "connections:plan", kwargs={"handle": handle_of(ben), "public_id": plan.public_id}
    )
    client = signed_in(ana)
    html = client.get(url).content.decode()
    page = text_of(html.encode())
    assert offers(page, "Ben") and "Send report" in page
    assert "Block Ana" not in page
    people = reverse("connections:people")
    assert f'name="next" value="{people}"' in html  # the plan is hidden from both once blocked
    block_create(blocker_id=ana.pk, blocked_id=ben.pk)
    assert client.get(url).status_code == 404
