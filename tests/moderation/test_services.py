"""Decisions and appeals: what each one saves, logs, enforces and tells, and the rules they keep."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from chatspheres.accounts.models import User
from chatspheres.calls.events import CallEnded
from chatspheres.calls.models import Conversation
from chatspheres.common.errors import ApplicationError, PermissionDenied
from chatspheres.common.events import Captured, ToMember
from chatspheres.moderation.models import Appeal, AuditEntry, Decision
from chatspheres.moderation.selectors import is_restricted, restriction_for
from chatspheres.moderation.services import appeal_decide, appeal_make, decision_make
from chatspheres.moderation.tokens import decision_id_from, notice_url
from chatspheres.notifications.kinds import link_for, words_for
from chatspheres.notifications.models import Notification
from chatspheres.notifications.services import notification_preferences_set
from chatspheres.realtime.sessions import SessionCheck
from chatspheres.safety.models import Report
from chatspheres.spheres.models import Sphere
from tests.conftest import make_member
from tests.moderation.helpers import make_report, talk

pytestmark = pytest.mark.django_db

STATEMENT = "You insulted the person you talked with, again and again. That is harassment."


def decide(report: Report, moderator: User, action: str, days: int | None = None) -> Decision:
    return decision_make(
        report=report, moderator=moderator, action=action, statement=STATEMENT, days=days
    )


def kinds_logged() -> list[tuple[str, str]]:
    return list(AuditEntry.objects.values_list("kind", "action"))


# Each decision ------------------------------------------------------------------


def test_dismissing_decides_the_report_tells_the_reporter_and_leaves_the_person_alone(
    people: dict[str, User], report: Report
) -> None:
    decision = decide(report, people["mia"], "dismiss")
    report.refresh_from_db()
    assert report.state == Report.State.DECIDED
    assert decision.ends_at is None
    assert not is_restricted(user_id=people["ben"].pk)
    assert kinds_logged() == [("report_filed", "harassment"), ("decision", "dismiss")]
    assert not Notification.objects.filter(recipient=people["ben"]).exists()
    outcome = Notification.objects.get(recipient=people["ana"], kind="report_outcome")
    assert words_for(outcome) == "A moderator looked at your report about Ben: we found no breach"


def test_a_warning_is_told_to_the_person_in_the_app(
    people: dict[str, User], report: Report
) -> None:
    decision = decide(report, people["mia"], "warn")
    assert mail.outbox == []  # emails leave once the transaction commits (it never does here)
    assert not is_restricted(user_id=people["ben"].pk)
    told = Notification.objects.get(recipient=people["ben"], kind="moderation_decision")
    assert words_for(told) == "A moderator sent you a warning: see why, and how to appeal"
    assert told.data["decision"] == str(decision.pk)
    # It leads to the decision's notice, through the same signed link as the email.
    link = link_for(told)
    assert link.startswith("/moderation/notice/")
    assert decision_id_from(link.split("/")[-2]) == decision.pk


@pytest.mark.django_db(transaction=True)
def test_emails_name_the_site_and_link_to_it(people: dict[str, User], settings: Any) -> None:
    settings.SITE_NAME = "Talk Town"
    settings.SITE_URL = "https://talk.example"
    report = make_report(people["ana"], people["ben"])
    decision = decide(report, people["mia"], "suspend", days=7)

    to_ben, to_ana = sorted(mail.outbox, key=lambda message: message.to[0] != "ben@example.com")
    assert to_ben.to == ["ben@example.com"]
    assert to_ben.subject == "[Talk Town] A moderator's decision about your account"
    assert (
        "A moderator of Talk Town looked at a report about you and decided to suspend your account."
        in (to_ben.body)
    )
    assert STATEMENT in to_ben.body
    assert "Your account is suspended until " in to_ben.body
    assert "(Europe/Paris time)" in to_ben.body  # the person's own time zone, and UTC
    assert " UTC." in to_ben.body
    assert f"https://talk.example{notice_url(decision.pk).split('/notice/')[0]}/notice/" in (
        to_ben.body
    )
    assert to_ana.to == ["ana@example.com"]
    assert to_ana.subject == "[Talk Town] What we decided about your report"
    assert "We took action" in to_ana.body
    assert STATEMENT not in to_ana.body and "suspend" not in to_ana.body.lower()
    assert "Talk Town" in to_ana.body and "https://talk.example" in to_ana.body


def test_suspending_keeps_the_person_out_until_the_end_date_and_ends_their_call(
    people: dict[str, User], report: Report, sphere: Sphere, sent_events: Captured
) -> None:
    ana, ben = people["ana"], people["ben"]
    live = talk(sphere, ben, make_member("cleo@example.com", name="Cleo"), end=False)
    decision = decide(report, people["mia"], "suspend", days=3)

    assert decision.ends_at is not None
    assert timedelta(days=3) - (decision.ends_at - timezone.now()) < timedelta(minutes=1)
    assert restriction_for(user_id=ben.pk) == decision
    live.refresh_from_db()
    assert (live.state, live.end_reason, live.ended_by_id) == ("ended", "left", ben.pk)
    # Cleo's screen hears the same as when a partner leaves; Ben's tabs check their session.
    ended = [sent.event for sent in sent_events.of_type(CallEnded)]
    assert {event.reason for event in ended} == {"left"}
    assert [sent.targets for sent in sent_events.of_type(SessionCheck)] == [(ToMember(ben.pk),)]
    assert kinds_logged()[-1] == ("decision", "suspend 3 days")
    assert not is_restricted(user_id=ana.pk)
    # Nothing of his is deleted.
    assert User.objects.filter(pk=ben.pk, is_active=True).exists()
    assert Conversation.objects.filter(pk=live.pk).exists()


def test_a_suspension_ends_by_itself_when_its_time_is_up(
    people: dict[str, User], report: Report
) -> None:
    decision = decide(report, people["mia"], "suspend", days=1)
    assert is_restricted(user_id=people["ben"].pk)
    Decision.objects.filter(pk=decision.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    assert not is_restricted(user_id=people["ben"].pk)


def test_a_ban_has_no_end(people: dict[str, User], report: Report) -> None:
    decision = decide(report, people["mia"], "ban")
    assert decision.ends_at is None
    assert restriction_for(user_id=people["ben"].pk) == decision
    told = Notification.objects.get(recipient=people["ben"], kind="moderation_decision")
    assert words_for(told) == "A moderator banned your account: see why, and how to appeal"
    outcome = Notification.objects.get(recipient=people["ana"], kind="report_outcome")
    assert words_for(outcome) == "A moderator looked at your report about Ben: we took action"


def test_moderation_notices_arrive_even_with_every_notification_turned_off(
    people: dict[str, User], report: Report
) -> None:
    for person in (people["ana"], people["ben"]):
        notification_preferences_set(user_id=person.pk, enabled_kinds=[])
    decide(report, people["mia"], "warn")
    assert Notification.objects.filter(recipient=people["ben"]).count() == 1
    assert Notification.objects.filter(recipient=people["ana"], kind="report_outcome").count() == 1


# The rules of a decision -----------------------------------------------------------


def test_only_moderators_decide(people: dict[str, User], report: Report) -> None:
    with pytest.raises(PermissionDenied, match=re.escape("Only moderators may do that.")):
        decide(report, make_member("eve@example.com"), "ban")
    staff = make_member("root@example.com")
    staff.is_staff = True
    staff.save()
    assert decide(report, staff, "warn").moderator == staff


def test_a_report_is_decided_once(people: dict[str, User], report: Report) -> None:
    decide(report, people["mia"], "warn")
    with pytest.raises(ApplicationError, match=re.escape("This report has already been decided.")):
        decide(report, people["max"], "ban")


def test_a_moderator_never_decides_a_report_about_themselves(people: dict[str, User]) -> None:
    report = make_report(people["ana"], people["mia"])
    with pytest.raises(ApplicationError, match="you are part of it") as refused:
        decide(report, people["mia"], "dismiss")
    assert refused.value.code == "own_case"


@pytest.mark.parametrize(
    ("action", "days", "statement"),
    [
        ("suspend", None, STATEMENT),
        ("suspend", 0, STATEMENT),
        ("suspend", 366, STATEMENT),
        ("warn", None, "   "),
        ("delete", None, STATEMENT),
    ],
)
def test_a_decision_needs_an_action_a_length_and_reasons(
    people: dict[str, User], report: Report, action: str, days: int | None, statement: str
) -> None:
    with pytest.raises(ApplicationError) as refused:
        decision_make(
            report=report, moderator=people["mia"], action=action, statement=statement, days=days
        )
    assert refused.value.code == "bad_decision"
    assert not Decision.objects.exists()


# Appeals --------------------------------------------------------------------------


def test_one_appeal_per_decision(people: dict[str, User], report: Report) -> None:
    decision = decide(report, people["mia"], "suspend", days=7)
    appeal = appeal_make(decision=decision, text="I never insulted anyone; she hung up on me.")
    assert appeal.appellant == people["ben"]
    assert appeal.state == Appeal.State.PENDING
    with pytest.raises(
        ApplicationError, match=re.escape("You have already appealed against this decision.")
    ):
        appeal_make(decision=decision, text="Again.")
    assert kinds_logged()[-1] == ("appeal_made", "suspend")


def test_a_dismissal_or_an_old_decision_cannot_be_appealed(
    people: dict[str, User], report: Report
) -> None:
    dismissal = decide(report, people["mia"], "dismiss")
    with pytest.raises(ApplicationError) as refused:
        appeal_make(decision=dismissal, text="Why was I reported?")
    assert refused.value.code == "appeal_closed"
    old = decide(make_report(people["ana"], people["ben"]), people["mia"], "warn")
    Decision.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=200))
    with pytest.raises(ApplicationError, match="can no longer be appealed"):
        appeal_make(decision=old, text="Please.")


def test_another_moderator_must_decide_the_appeal(people: dict[str, User], report: Report) -> None:
    decision = decide(report, people["mia"], "ban")
    appeal = appeal_make(decision=decision, text="It was a misunderstanding.")
    with pytest.raises(PermissionDenied) as refused:
        appeal_decide(appeal=appeal, moderator=people["mia"], outcome="upheld", statement="Fine.")
    assert refused.value.code == "same_moderator"
    assert refused.value.message == (
        "A different moderator must decide this appeal: you took the decision it is about."
    )
    with pytest.raises(PermissionDenied):
        appeal_decide(
            appeal=appeal, moderator=make_member("eve@example.com"), outcome="upheld", statement="x"
        )
    upheld = appeal_decide(
        appeal=appeal, moderator=people["max"], outcome="upheld", statement="The chat shows it."
    )
    assert (upheld.state, upheld.decided_by) == (Appeal.State.UPHELD, people["max"])
    assert is_restricted(user_id=people["ben"].pk)
    with pytest.raises(ApplicationError, match=re.escape("This appeal has already been decided.")):
        appeal_decide(appeal=appeal, moderator=people["max"], outcome="overturned", statement="x")
    told = Notification.objects.get(recipient=people["ben"], kind="appeal_outcome")
    assert words_for(told) == "A moderator looked at your appeal: the decision stands"


def test_overturning_lifts_the_suspension_and_is_logged(
    people: dict[str, User], report: Report
) -> None:
    decision = decide(report, people["mia"], "suspend", days=30)
    appeal = appeal_make(decision=decision, text="That was my brother on my account.")
    appeal_decide(
        appeal=appeal, moderator=people["max"], outcome="overturned", statement="Not enough shown."
    )
    decision.refresh_from_db()
    assert decision.lifted_at is not None
    assert not is_restricted(user_id=people["ben"].pk)
    told = Notification.objects.get(recipient=people["ben"], kind="appeal_outcome")
    assert words_for(told) == "Your appeal succeeded: the decision is withdrawn"
    entry = AuditEntry.objects.filter(kind="appeal_outcome").get()
    assert (entry.action, entry.actor_id, entry.reasons) == (
        "overturned",
        people["max"].pk,
        "Not enough shown.",
    )
    assert entry.actor_label == "Max <max@example.com>"
    assert kinds_logged() == [
        ("report_filed", "harassment"),
        ("decision", "suspend 30 days"),
        ("appeal_made", "suspend"),
        ("appeal_outcome", "overturned"),
    ]
