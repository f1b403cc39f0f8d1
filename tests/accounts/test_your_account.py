"""Your account on the profile page: change email and password, download your data, delete it."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from chatspheres.accounts.models import DELETED_MEMBER_NAME, Interest, Profile, User
from chatspheres.accounts.selectors import account_data
from chatspheres.accounts.services import account_delete
from chatspheres.calls.models import Participant
from chatspheres.common.events import ToMember
from chatspheres.connections.models import Follow, Note
from chatspheres.connections.services import follow_create, note_create
from chatspheres.moderation.models import Decision
from chatspheres.notifications.models import Notification
from chatspheres.realtime.sessions import SessionCheck
from chatspheres.safety.models import Report
from chatspheres.spheres.models import Sphere
from tests.conftest import make_member
from tests.connections.helpers import talk

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-test-password"


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def pair(sphere: Sphere) -> tuple[User, User]:
    """Ana and Ben had a conversation; each rated it, wrote a note and followed the other."""
    ana = make_member("ana@example.com", name="Ana", interests=("books", "sourdough starters"))
    ben = make_member("ben@example.com", name="Ben", interests=("books",))
    conversation = talk(sphere, ana, ben, a_rating="good", b_rating="not_for_me")
    note_create(author_id=ana.pk, about_id=ben.pk, text="Ana's note: Ben bakes.")
    note_create(author_id=ben.pk, about_id=ana.pk, text="Ben's secret note about Ana")
    follow_create(follower_id=ana.pk, followee_id=ben.pk)
    follow_create(follower_id=ben.pk, followee_id=ana.pk)
    Report.objects.create(
        reporter=ana,
        subject=ben,
        subject_label="Ben",
        reason=Report.Reason.SPAM,
        details="Kept posting a link.",
        conversation=conversation,
        sphere=sphere,
        chat_excerpt=[
            {"from": "subject", "text": "Ben's line: buy now", "at": "2026-11-30T10:00:00+00:00"},
            {"from": "reporter", "text": "Please stop", "at": "2026-11-30T10:00:05+00:00"},
        ],
    )
    Report.objects.create(
        reporter=ben, subject=ana, subject_label="Ana", reason=Report.Reason.OTHER,
        details="Ben's report about Ana",
    )  # fmt: skip
    return ana, ben


# The profile page's account section ------------------------------------------------


def test_the_profile_page_links_every_account_action(client: Client) -> None:
    client.force_login(make_member("ana@example.com"))
    page = client.get("/profile/").content.decode()
    assert 'href="/accounts/email/">Change email</a>' in page
    assert 'href="/accounts/password/change/">Change password</a>' in page
    assert 'href="/profile/data/" download>Download my data</a>' in page
    assert 'href="/profile/delete/">Delete my account</a>' in page


def test_change_password_page_is_in_the_site_layout_and_changes_it(client: Client) -> None:
    ana = make_member("ana@example.com")
    client.force_login(ana)
    page = client.get("/accounts/password/change/").content.decode()
    assert "<h1>Change password</h1>" in page
    assert 'class="site-footer"' in page
    wrong = client.post(
        "/accounts/password/change/",
        {"oldpassword": "not it", "password1": "a-new-long-password", "password2": "x"},
    )
    assert "Please type your current password." in wrong.content.decode()
    response = client.post(
        "/accounts/password/change/",
        {
            "oldpassword": PASSWORD,
            "password1": "a-new-long-password",
            "password2": "a-new-long-password",
        },
    )
    assert response.status_code == 302
    ana.refresh_from_db()
    assert ana.check_password("a-new-long-password")


def test_change_email_sends_a_link_to_the_new_address_and_switches_once_opened(
    client: Client,
) -> None:
    ana = make_member("ana@example.com")
    EmailAddress.objects.create(user=ana, email="ana@example.com", primary=True, verified=True)
    client.force_login(ana)
    page = client.get("/accounts/email/").content.decode()
    assert "<h1>Change email</h1>" in page
    response = client.post(
        "/accounts/email/", {"action_add": "", "email": "ana.new@example.com"}, follow=True
    )
    assert "Changing to <strong>ana.new@example.com</strong>" in response.content.decode()
    (message,) = [m for m in mail.outbox if m.to == ["ana.new@example.com"]]
    path = "/accounts/confirm-email/" + message.body.split("/accounts/confirm-email/")[1].split()[0]
    client.post(path)
    ana.refresh_from_db()
    assert ana.email == "ana.new@example.com"


# Download my data ---------------------------------------------------------------------


def test_download_my_data_has_my_own_data(pair: tuple[User, User]) -> None:
    ana, _ben = pair
    response = signed_in(ana).get("/profile/data/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith('attachment; filename="chatspheres-data-')
    data = json.loads(response.content)
    assert data["account"]["email"] == "ana@example.com"
    assert data["profile"]["display_name"] == "Ana"
    assert data["interests"] == ["books", "sourdough starters"]
    (conversation,) = data["conversations"]
    assert conversation["with"] == {"name": "Ben", "handle": "ben"}
    assert conversation["my_rating"] == "Good"
    assert conversation["kind"] == "Matched in a sphere"
    assert [note["text"] for note in data["notes"]] == ["Ana's note: Ben bakes."]
    assert [f["person"]["name"] for f in data["following"]] == ["Ben"]
    (report,) = data["reports_made"]
    assert report["about"] == "Ben"
    assert report["details"] == "Kept posting a link."
    assert report["my_chat_lines"] == [{"text": "Please stop", "at": "2026-11-30T10:00:05+00:00"}]


def test_download_my_data_never_holds_another_members_private_data(
    pair: tuple[User, User],
) -> None:
    ana, _ben = pair
    text = signed_in(ana).get("/profile/data/").content.decode()
    for private in (
        "Ben's secret note about Ana",  # his note about her
        "Not for me",  # his rating of their conversation
        "ben@example.com",  # his address
        "Ben's line: buy now",  # his chat line in her report
        "Ben's report about Ana",  # his report about her
    ):
        assert private not in text


def test_download_my_data_needs_a_signed_in_member(client: Client) -> None:
    response = client.get("/profile/data/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# Delete my account --------------------------------------------------------------------


def delete(client: Client, email: str, password: str) -> Any:
    return client.post("/profile/delete/", {"email": email, "password": password})


def test_the_delete_page_says_what_goes_and_what_stays(pair: tuple[User, User]) -> None:
    page = signed_in(pair[0]).get("/profile/delete/").content.decode()
    assert "<h1>Delete my account</h1>" in page
    assert "What goes" in page and "What stays" in page
    assert '<button type="submit" class="button button-danger">Delete my account</button>' in page


@pytest.mark.parametrize(
    ("email", "password"),
    [("ana@example.com", "wrong password"), ("someone@example.com", PASSWORD)],
)
def test_deleting_needs_my_own_address_and_password(
    pair: tuple[User, User], email: str, password: str
) -> None:
    ana, _ben = pair
    response = delete(signed_in(ana), email, password)
    assert response.status_code == 200
    assert "That is not your email address and password, so nothing was deleted." in (
        response.content.decode()
    )
    ana.refresh_from_db()
    assert ana.is_active and ana.deleted_at is None


def test_after_deletion_what_was_mine_is_gone_and_what_others_wrote_stays(
    pair: tuple[User, User],
) -> None:
    ana, ben = pair
    client = signed_in(ana)
    response = delete(client, "ANA@example.com", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert "Your account is deleted." in client.get("/").content.decode()
    assert client.get("/profile/").status_code == 302  # signed out

    ana.refresh_from_db()
    assert not ana.is_active and not ana.has_usable_password()
    assert ana.email.endswith("@deleted.invalid")
    # Her notes are gone; Ben's note about her is still his.
    assert not Note.objects.filter(author=ana).exists()
    assert Note.objects.get(author=ben).text == "Ben's secret note about Ana"
    assert not Follow.objects.filter(follower=ana).exists()
    # Her profile is blank; the conversation is still in Ben's history, with his rating.
    profile = Profile.objects.get(user=ana)
    assert (profile.display_name, profile.bio, list(profile.interests.all())) == (
        DELETED_MEMBER_NAME, "", []
    )  # fmt: skip
    assert Participant.objects.get(user=ben).rating == "not_for_me"
    assert Participant.objects.get(user=ana).rating == ""
    # The interest only she had typed is gone; the shared one stays.
    assert not Interest.objects.filter(name="sourdough starters").exists()
    assert Interest.objects.filter(name="books").exists()
    # Reports about her stay, unlinked, under the name she had.
    report = Report.objects.get(subject_label="Ana")
    assert report.subject is None
    assert report.details == "Ben's report about Ana"
    assert Report.objects.get(subject_label="Ben").reporter is None
    assert not Notification.objects.filter(recipient=ana).exists()


def test_moderation_decisions_about_a_deleted_member_stay_unlinked(
    pair: tuple[User, User],
) -> None:
    ana, ben = pair
    report = Report.objects.get(subject_label="Ana")
    decision = Decision.objects.create(
        report=report, subject=ana, moderator=ben, action=Decision.Action.WARN, statement="Warned."
    )
    delete(signed_in(ana), "ana@example.com", PASSWORD)
    decision.refresh_from_db()
    assert decision.subject is None
    assert decision.statement == "Warned."


def test_a_deleted_member_cannot_log_in_and_the_address_can_sign_up_again(
    pair: tuple[User, User],
) -> None:
    ana, _ben = pair
    delete(signed_in(ana), "ana@example.com", PASSWORD)
    login = Client().post("/accounts/login/", {"login": "ana@example.com", "password": PASSWORD})
    assert login.status_code == 200
    assert "The email address and/or password you specified are not correct." in (
        login.content.decode()
    )
    Client().post(
        "/accounts/signup/",
        {
            "email": "ana@example.com",
            "password1": "correct horse battery staple",
            "display_name": "Ana again",
            "is_adult": "on",
        },
    )
    assert Profile.objects.get(user__email="ana@example.com").display_name == "Ana again"
    assert mail.outbox[-1].to == ["ana@example.com"]
    assert "already exists" not in mail.outbox[-1].body


def test_pages_that_show_a_past_partner_show_a_deleted_member(
    pair: tuple[User, User],
) -> None:
    ana, ben = pair
    delete(signed_in(ana), "ana@example.com", PASSWORD)
    client = signed_in(ben)
    people = client.get("/people/")
    assert people.status_code == 200
    assert "Ana" not in people.content.decode().replace(DELETED_MEMBER_NAME, "")
    assert ">Deleted member</a>" in people.content.decode()
    handle = Profile.objects.get(user=ana).handle
    person = client.get(f"/people/{handle}/").content.decode()
    assert "<h1>Deleted member</h1>" in person


def test_deleting_closes_the_members_open_sockets_on_every_process(
    pair: tuple[User, User], sent_events: Any
) -> None:
    ana, _ben = pair
    account_delete(user=ana, email="ana@example.com", password=PASSWORD)
    assert [sent.targets for sent in sent_events.of_type(SessionCheck)] == [(ToMember(ana.pk),)]


def test_an_operator_can_delete_an_account_on_request(pair: tuple[User, User]) -> None:
    ana, ben = pair
    out = io.StringIO()
    call_command("delete_account", "Ana@Example.com", stdout=out)
    assert "Deleted the account of Ana@Example.com" in out.getvalue()
    ana.refresh_from_db()
    assert ana.deleted_at is not None and not ana.is_active
    assert Note.objects.get(author=ben).text == "Ben's secret note about Ana"
    with pytest.raises(CommandError, match=r"No account uses the address nobody@example\.com\."):
        call_command("delete_account", "nobody@example.com")


def test_download_my_data_takes_the_same_queries_for_1_or_5_conversations(sphere: Sphere) -> None:
    ana = make_member("ana@example.com", name="Ana")
    others = [make_member(f"p{n}@example.com", name=f"P{n}") for n in range(5)]

    def add(person: User) -> None:
        talk(sphere, ana, person, a_rating="good")
        note_create(author_id=ana.pk, about_id=person.pk, text="a note")
        follow_create(follower_id=ana.pk, followee_id=person.pk)

    add(others[0])
    with CaptureQueriesContext(connection) as one:
        account_data(user_id=ana.pk)
    for person in others[1:]:
        add(person)
    with CaptureQueriesContext(connection) as five:
        data = account_data(user_id=ana.pk)
    assert len(data["conversations"]) == len(data["notes"]) == len(data["following"]) == 5
    assert len(five.captured_queries) == len(one.captured_queries)
