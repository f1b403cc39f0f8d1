"""The moderators' pages, the notice with "Appeal", the refused sign-in and queue join."""

from __future__ import annotations

import re
import zoneinfo
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from chatspheres.accounts.models import Interest, User
from chatspheres.accounts.services import interests_ensure
from chatspheres.common.errors import ApplicationError
from chatspheres.matching.selectors import queue_request_for
from chatspheres.moderation.models import Appeal, Decision
from chatspheres.moderation.selectors import length_words
from chatspheres.moderation.services import appeal_decide, appeal_make, decision_make
from chatspheres.moderation.tokens import notice_token, notice_url
from chatspheres.safety.models import Report
from chatspheres.spheres.models import Sphere
from tests.conftest import make_member
from tests.moderation.helpers import PASSWORD, make_moderator, make_report, signed_in, talk

pytestmark = pytest.mark.django_db

STATEMENT = "You threatened the person you talked with."
CHAT = [
    {"from": "subject", "text": "I know where you live.", "at": "2026-11-30T10:01:00+00:00"},
    {"from": "reporter", "text": "Please stop.", "at": "2026-11-30T10:01:09+00:00"},
]


@pytest.fixture
def people(sphere: Sphere) -> dict[str, User]:
    staff = make_member("root@example.com", name="Root")
    staff.is_staff = True
    staff.save()
    return {
        "ana": make_member("ana@example.com", name="Ana", spheres=(sphere,)),
        "ben": make_member("ben@example.com", name="Ben", spheres=(sphere,)),
        "mia": make_moderator("mia@example.com", name="Mia"),
        "max": make_moderator("max@example.com", name="Max"),
        "staff": staff,
    }


@pytest.fixture
def report(people: dict[str, User], sphere: Sphere) -> Report:
    conversation = talk(sphere, people["ana"], people["ben"])
    return make_report(
        people["ana"],
        people["ben"],
        reason=Report.Reason.THREAT,
        details="He said he knows where I live.",
        conversation=conversation,
        chat=CHAT,
    )


def text_of(response: Any) -> str:
    """The page's words, tags removed and spaces collapsed, as a person reads them."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


# Who may see the moderators' pages -----------------------------------------------


def moderator_urls(report: Report, appeal: Appeal) -> list[str]:
    return [
        reverse("moderation:queue"),
        reverse("moderation:report", kwargs={"report_id": report.pk}),
        reverse("moderation:appeal", kwargs={"appeal_id": appeal.pk}),
        reverse("moderation:log"),
    ]


def test_only_moderators_and_staff_see_the_moderation_pages(
    people: dict[str, User], report: Report
) -> None:
    decision = decision_make(
        report=report, moderator=people["mia"], action="warn", statement=STATEMENT
    )
    appeal = appeal_make(decision=decision, text="I was joking.")
    for url in moderator_urls(report, appeal):
        anonymous = Client().get(url)
        assert anonymous.status_code == 302
        assert anonymous.url.startswith("/accounts/login/?next=")
        assert signed_in(people["ana"]).get(url).status_code == 403
        assert signed_in(people["mia"]).get(url).status_code == 200
        assert signed_in(people["staff"]).get(url).status_code == 200
    # The header links moderators (and only them) to the page.
    link = '<a href="/moderation/">Moderation</a>'
    assert link not in signed_in(people["ana"]).get(reverse("spheres:list")).content.decode()
    assert link in signed_in(people["mia"]).get(reverse("spheres:list")).content.decode()
    assert link in signed_in(people["staff"]).get(reverse("spheres:list")).content.decode()
    interest = Interest.objects.create(name="knitting", suggested_by=people["ana"])
    approve = reverse("moderation:interest_approve", kwargs={"interest_id": interest.pk})
    assert signed_in(people["ana"]).post(approve).status_code == 403
    assert Client().post(approve).status_code == 302
    assert not Interest.objects.get(pk=interest.pk).approved


# The queue and a report -----------------------------------------------------------


def test_the_queue_shows_open_reports_with_their_context(
    people: dict[str, User], report: Report
) -> None:
    earlier = make_report(people["max"], people["ben"], reason=Report.Reason.SPAM, details="Ads.")
    decision_make(report=earlier, moderator=people["mia"], action="warn", statement="Spam.")
    page = signed_in(people["mia"]).get(reverse("moderation:queue"))
    html = page.content.decode()
    assert '<caption id="reports-caption">Reports</caption>' in html
    table = html[html.index("<table") : html.index("</table>")]
    words = " ".join(re.sub(r"<[^>]+>", " ", table).split())
    assert "Ben Threat of harm Ana" in words
    assert "in Book Club under a minute" in words  # the call ended as soon as it began
    assert "2 chat lines" in words
    assert "He said he knows where I live." in words
    assert "1 report, 1 decision" in words  # the earlier spam report and its warning
    assert "Ads." not in words  # decided reports leave the queue
    assert f'href="/moderation/reports/{report.pk}/"' in table


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (None, "still going"),
        (59, "under a minute"),
        (60, "1 minute"),
        (754, "12 minutes"),
        (3900, "1 h 5 min"),
    ],
)
def test_a_conversation_length_in_words(seconds: int | None, words: str) -> None:
    assert length_words(None if seconds is None else timedelta(seconds=seconds)) == words


def test_a_report_page_has_the_chat_the_history_and_a_prefilled_statement(
    people: dict[str, User], report: Report
) -> None:
    client = signed_in(people["mia"])
    url = reverse("moderation:report", kwargs={"report_id": report.pk})
    page = client.get(url + "?action=suspend")
    words = text_of(page)
    assert "Report about Ben" in words
    assert re.search(r"Ben [\d:]+ : I know where you live\. Ana [\d:]+ : Please stop\.", words)
    assert "in Book Club" in words
    for label in ("Dismiss", "Warn", "Suspend", "Ban"):
        assert re.search(
            rf'<input type="radio" name="action" value="\w+"[^>]*> {label}</label>',
            page.content.decode(),
        )
    assert '<label for="id_statement">Statement of reasons</label>' in page.content.decode()
    assert "A member reported you for threatening to harm someone" in words
    assert "Your account is suspended" in words

    answer = client.post(url, {"action": "suspend", "days": "5", "statement": STATEMENT})
    assert answer.status_code == 302
    decision = Decision.objects.get()
    assert (decision.action, decision.moderator, decision.statement) == (
        "suspend",
        people["mia"],
        STATEMENT,
    )
    after = text_of(client.get(url))
    assert "Decided: Suspend." in after and STATEMENT in after
    again = client.post(url, {"action": "ban", "statement": STATEMENT})
    assert "This report has already been decided." in text_of(again)


def test_the_decision_form_says_what_is_missing(people: dict[str, User], report: Report) -> None:
    url = reverse("moderation:report", kwargs={"report_id": report.pk})
    page = signed_in(people["mia"]).post(url, {"action": "suspend", "days": "", "statement": ""})
    words = text_of(page)
    assert "Say for how many days (1 to 365)." in words
    assert "This field is required." in words
    assert not Decision.objects.exists()


def test_the_moderator_who_decided_is_told_another_must_answer_the_appeal(
    people: dict[str, User], report: Report
) -> None:
    decision = decision_make(report=report, moderator=people["mia"], action="ban", statement="x")
    appeal = appeal_make(decision=decision, text="I was joking.")
    url = reverse("moderation:appeal", kwargs={"appeal_id": appeal.pk})
    queue = text_of(signed_in(people["max"]).get(reverse("moderation:queue")))
    assert "Appeal by Ben against “Ban”" in queue
    page = signed_in(people["mia"]).post(url, {"outcome": "overturned", "statement": "Oops."})
    assert "A different moderator must decide this appeal" in text_of(page)
    answer = signed_in(people["max"]).post(url, {"outcome": "upheld", "statement": "It stands."})
    assert answer.status_code == 302
    assert Appeal.objects.get().state == Appeal.State.UPHELD


def test_the_audit_log_page_lists_who_did_what_and_why(
    people: dict[str, User], report: Report
) -> None:
    decision_make(report=report, moderator=people["mia"], action="warn", statement=STATEMENT)
    words = text_of(signed_in(people["max"]).get(reverse("moderation:log")))
    assert f"Report filed: threat (report #{report.pk}) Ana <ana@example.com> Ben" in words
    assert f"Decision: warn (report #{report.pk}) Mia <mia@example.com>" in words
    assert STATEMENT in words


# The person's side --------------------------------------------------------------


def test_a_suspended_member_cannot_sign_in_and_is_told_until_when_and_how_to_appeal(
    people: dict[str, User], report: Report
) -> None:
    ben = people["ben"]
    before = signed_in(ben)  # a session from before the decision
    assert before.get(reverse("accounts:profile")).status_code == 200
    decision = decision_make(
        report=report, moderator=people["mia"], action="suspend", statement=STATEMENT, days=7
    )
    assert decision.ends_at is not None

    # The session from before is over.
    assert before.get(reverse("accounts:profile")).status_code == 302

    visitor = Client()
    page = visitor.post(reverse("account_login"), {"login": ben.email, "password": PASSWORD})
    assert page.status_code == 403
    words = text_of(page)
    local = decision.ends_at.astimezone(zoneinfo.ZoneInfo("Europe/Paris"))
    assert "Your account is suspended" in words
    assert f"until {local:%A %-d %B %Y, %H:%M} (Europe/Paris time)" in words
    assert "UTC" in words
    assert "Read why, and appeal" in words
    assert notice_url(decision.pk).split("/notice/")[0] in page.content.decode()
    assert "_auth_user_id" not in visitor.session  # not signed in

    # A wrong password still says so, without a word about the suspension.
    wrong = Client().post(reverse("account_login"), {"login": ben.email, "password": "nope-nope"})
    assert "suspended" not in text_of(wrong)


def test_the_moderators_group_exists() -> None:
    assert Group.objects.filter(name="Moderators").exists()


def test_an_overturned_ban_lets_the_member_sign_in_again(
    people: dict[str, User], report: Report
) -> None:
    ben = people["ben"]
    before = signed_in(ben)
    decision = decision_make(report=report, moderator=people["mia"], action="ban", statement="x")
    refused = Client().post(reverse("account_login"), {"login": ben.email, "password": PASSWORD})
    assert "Your account is banned" in text_of(refused)
    appeal = appeal_make(decision=decision, text="Not me.")
    appeal_decide(appeal=appeal, moderator=people["max"], outcome="overturned", statement="Ok.")
    # The session from before the ban was ended, not just paused: he signs in anew.
    assert before.get(reverse("accounts:profile")).status_code == 302
    client = Client()
    signed = client.post(reverse("account_login"), {"login": ben.email, "password": PASSWORD})
    assert signed.status_code == 302
    assert client.get(reverse("accounts:profile")).status_code == 200


def test_a_suspended_member_may_not_join_a_queue(
    people: dict[str, User], report: Report, sphere: Sphere
) -> None:
    decision_make(
        report=report, moderator=people["mia"], action="suspend", statement=STATEMENT, days=2
    )
    with pytest.raises(ApplicationError) as refused:
        queue_request_for(user_id=people["ben"].pk, sphere_id=sphere.pk)
    assert refused.value.code == "account_restricted"
    assert refused.value.message.startswith("Your account is suspended or banned")
    assert queue_request_for(user_id=people["ana"].pk, sphere_id=sphere.pk).sphere_id == sphere.pk


def test_the_notice_link_works_without_signing_in_and_takes_one_appeal(
    people: dict[str, User], report: Report
) -> None:
    decision = decision_make(
        report=report, moderator=people["mia"], action="ban", statement=STATEMENT
    )
    url = notice_url(decision.pk)
    visitor = Client()
    words = text_of(visitor.get(url))
    assert "A moderator's decision about your account" in words
    assert STATEMENT in words
    assert "Your account is banned" in words
    assert '<button type="submit" class="button button-primary">Appeal</button>' in (
        visitor.get(url).content.decode()
    )
    empty = visitor.post(url, {"text": " "})
    assert "This field is required." in text_of(empty)
    sent = visitor.post(url, {"text": "I never said that."}, follow=True)
    words = text_of(sent)
    assert "Your appeal is sent." in words
    assert "You appealed on" in words and ">Appeal</button>" not in sent.content.decode()
    assert Appeal.objects.get().appellant == people["ben"]
    # A second appeal from the same link is not offered, nor taken.
    visitor.post(url, {"text": "Again."})
    assert Appeal.objects.count() == 1


def test_a_made_up_or_altered_notice_link_leads_nowhere(
    people: dict[str, User], report: Report
) -> None:
    dismissal = decision_make(
        report=report, moderator=people["mia"], action="dismiss", statement="x"
    )
    assert Client().get(notice_url(dismissal.pk)).status_code == 404
    token = notice_token(dismissal.pk)
    assert Client().get(f"/moderation/notice/{token[:-2]}xx/").status_code == 404
    assert Client().get("/moderation/notice/1/").status_code == 404


# Interest names ---------------------------------------------------------------------


def test_moderators_approve_or_reject_the_interest_names_members_typed(
    people: dict[str, User],
) -> None:
    ana, ben = people["ana"], people["ben"]
    for person, names in ((ana, ["sourdough", "kite surfing"]), (ben, ["sourdough"])):
        person.profile.interests.add(*interests_ensure(names=names, suggested_by=person))
    client = signed_in(people["mia"])
    html = client.get(reverse("moderation:queue")).content.decode()
    section = html[html.index('id="interests"') :]
    assert section.index("sourdough") < section.index("kite surfing")  # most chosen first
    assert "chosen by 2" in section

    sourdough = Interest.objects.get(name="sourdough")
    kites = Interest.objects.get(name="kite surfing")
    client.post(reverse("moderation:interest_approve", kwargs={"interest_id": sourdough.pk}))
    answer = client.post(
        reverse("moderation:interest_reject", kwargs={"interest_id": kites.pk}), follow=True
    )
    assert "“kite surfing” stays private to those who chose it." in text_of(answer)
    assert set(Interest.objects.suggestable().values_list("name", flat=True)) >= {"sourdough"}
    assert not Interest.objects.get(pk=kites.pk).approved
    section = answer.content.decode()
    section = section[section.index('id="interests"') : section.index('id="log-title"')]
    assert "sourdough" not in section and "kite surfing" not in section


def test_the_queue_takes_the_same_queries_for_one_report_or_many(
    people: dict[str, User], report: Report, django_assert_max_num_queries: Any
) -> None:
    client = signed_in(people["mia"])
    url = reverse("moderation:queue")
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for index in range(10):
        reporter = make_member(f"r{index}@example.com", name=f"Reporter {index}")
        subject = make_member(f"s{index}@example.com", name=f"Subject {index}")
        decided = make_report(reporter, subject)
        decision = decision_make(
            report=decided, moderator=people["max"], action="warn", statement="x"
        )
        appeal_make(decision=decision, text="Please look again.")
        make_report(reporter, subject)
    with django_assert_max_num_queries(len(one.captured_queries)):
        page = client.get(url)
    assert "11 open reports" in text_of(page)
