"""Plans that follow along: every change tells both people's tabs, and a page refetches its part."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec
import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from chatspheres.accounts.models import User
from chatspheres.common.errors import ApplicationError
from chatspheres.common.events import Captured, ToMember
from chatspheres.connections.events import PlanChanged
from chatspheres.connections.models import Plan
from chatspheres.connections.plans import (
    plan_accept,
    plan_cancel,
    plan_propose,
    plan_suggest,
    plans_settle,
)
from chatspheres.safety.services import block_create
from chatspheres.spheres.models import Sphere
from tests.conftest import make_member
from tests.connections.helpers import direct_call, handle_of, talk

# Ana in São Paulo and Ben in Tokyo, connected: the same pair as the plan services' tests.
from tests.connections.test_plans import ana, ben, in_days  # noqa: F401  (fixtures used by name)

pytestmark = pytest.mark.django_db

SAO_PAULO, TOKYO = ZoneInfo("America/Sao_Paulo"), ZoneInfo("Asia/Tokyo")


def reads(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%a %H:%M}, {local.day} {local:%b}"


def changes(sent: Captured, user: User) -> list[PlanChanged]:
    return [each for each in sent.to(ToMember(user.pk)) if isinstance(each, PlanChanged)]


def last_for_both(sent: Captured, ana: User, ben: User) -> tuple[PlanChanged, PlanChanged]:  # noqa: F811
    return changes(sent, ana)[-1], changes(sent, ben)[-1]


def test_every_step_of_a_plan_tells_both_in_their_own_words_and_zone(
    ana: User,  # noqa: F811
    ben: User,  # noqa: F811
    sent_events: Captured,
) -> None:
    first, second, later = in_days(2), in_days(3), in_days(5)
    plan = plan_propose(proposer_id=ana.pk, other_id=ben.pk, times=[first, second])
    to_ana, to_ben = last_for_both(sent_events, ana, ben)
    assert (to_ana.plan, to_ana.change, to_ana.state) == (plan.public_id, "proposed", "proposed")
    assert to_ana.with_handle == handle_of(ben) and to_ben.with_handle == handle_of(ana)
    assert to_ana.words == "You offered Ben 2 times"
    assert to_ben.words == "Ana offered 2 times for a call"

    plan_suggest(user_id=ben.pk, public_id=plan.public_id, times=[later])
    to_ana, to_ben = last_for_both(sent_events, ana, ben)
    assert (to_ana.change, to_ben.change) == ("suggested", "suggested")
    assert (to_ana.words, to_ben.words) == (
        "Ben suggested other times",
        "You suggested other times to Ana",
    )

    plan_accept(user_id=ana.pk, public_id=plan.public_id, at=later)
    to_ana, to_ben = last_for_both(sent_events, ana, ben)
    assert (to_ana.change, to_ana.state, to_ana.version) == ("confirmed", "confirmed", 2)
    # The same instant, read in each one's own zone.
    assert to_ben.words == f"Ana accepted {reads(later, TOKYO)}"
    assert to_ana.words == f"You accepted {reads(later, SAO_PAULO)}"

    plan_suggest(user_id=ben.pk, public_id=plan.public_id, times=[first])
    to_ana, to_ben = last_for_both(sent_events, ana, ben)
    assert (to_ana.change, to_ana.state, to_ana.version) == ("move_asked", "confirmed", 2)
    assert to_ana.words == "Ben asks to move the call"

    plan_accept(user_id=ana.pk, public_id=plan.public_id, at=first)
    to_ana, to_ben = last_for_both(sent_events, ana, ben)
    assert (to_ana.change, to_ana.version) == ("moved", 3)
    assert to_ben.words == f"Ana accepted the new time: {reads(first, TOKYO)}"

    plan_cancel(user_id=ben.pk, public_id=plan.public_id)
    to_ana, to_ben = last_for_both(sent_events, ana, ben)
    assert (to_ana.change, to_ana.state, to_ana.version) == ("cancelled", "cancelled", 4)
    assert (to_ana.words, to_ben.words) == ("Ben cancelled the plan", "You cancelled the plan")

    # One event per step for each of the two, and nobody else heard any.
    assert len(changes(sent_events, ana)) == len(changes(sent_events, ben)) == 6
    assert all(
        set(each.targets) <= {ToMember(ana.pk), ToMember(ben.pk)}
        for each in sent_events.of_type(PlanChanged)
    )
    # Nothing beyond what both already see on the plan's page.
    assert set(msgspec.structs.asdict(to_ana)) == {
        "plan",
        "with_handle",
        "state",
        "version",
        "change",
        "words",
    }


def test_an_event_leaves_only_once_the_change_is_saved(
    ana: User,  # noqa: F811
    ben: User,  # noqa: F811
    sent_events: Captured,
) -> None:
    plan = plan_propose(proposer_id=ana.pk, other_id=ben.pk, times=[in_days(2)])
    before = len(sent_events.of_type(PlanChanged))
    # A change that is rolled back after it was made is never announced.
    with pytest.raises(_RolledBack), transaction.atomic():
        plan_accept(user_id=ben.pk, public_id=plan.public_id, at=in_days(2))
        raise _RolledBack
    assert len(sent_events.of_type(PlanChanged)) == before
    # A refused change announces nothing either.
    with pytest.raises(ApplicationError):
        plan_accept(user_id=ben.pk, public_id=plan.public_id, at=in_days(9))  # never offered
    assert len(sent_events.of_type(PlanChanged)) == before
    # The same change, saved, is.
    plan_accept(user_id=ben.pk, public_id=plan.public_id, at=in_days(2))
    assert len(sent_events.of_type(PlanChanged)) == before + 2


class _RolledBack(Exception):
    """Ends a transaction that made a change, so the change is undone."""


def test_a_kept_and_a_missed_plan_tell_both_when_settled(
    ana: User,  # noqa: F811
    ben: User,  # noqa: F811
    sphere: Sphere,
    sent_events: Captured,
) -> None:
    kept = plan_propose(proposer_id=ana.pk, other_id=ben.pk, times=[in_days(1)])
    plan_accept(user_id=ben.pk, public_id=kept.public_id, at=in_days(1))
    missed = plan_propose(proposer_id=ana.pk, other_id=ben.pk, times=[in_days(2)])
    plan_accept(user_id=ben.pk, public_id=missed.public_id, at=in_days(2))
    Plan.objects.filter(pk=kept.pk).update(starts_at=timezone.now() - timedelta(minutes=10))
    Plan.objects.filter(pk=missed.pk).update(starts_at=timezone.now() - timedelta(hours=3))
    direct_call(sphere, ana, ben)
    assert plans_settle(user_id=ana.pk) == 2
    for user in (ana, ben):
        by_plan = {each.plan: each for each in changes(sent_events, user)}
        assert (by_plan[kept.public_id].change, by_plan[kept.public_id].state) == ("kept", "kept")
        assert by_plan[missed.public_id].change == "missed"
        assert by_plan[missed.public_id].version == 3
    ana_missed = next(e for e in changes(sent_events, ana) if e.change == "missed")
    assert ana_missed.words.startswith("The call planned with Ben for ")
    count = len(sent_events.of_type(PlanChanged))
    assert plans_settle(user_id=ben.pk) == 0  # the second reader moves nothing, says nothing
    assert len(sent_events.of_type(PlanChanged)) == count


def test_a_block_calls_plans_off_without_telling_the_blocked_side(
    ana: User,  # noqa: F811
    ben: User,  # noqa: F811
    sent_events: Captured,
) -> None:
    plan_propose(proposer_id=ana.pk, other_id=ben.pk, times=[in_days(2)])
    before = len(changes(sent_events, ana))
    block_create(blocker_id=ben.pk, blocked_id=ana.pk)
    assert len(changes(sent_events, ana)) == before


# ---------------------------------------------------------------- the fragment pages fetch


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def part_url(plan: Plan, other: User) -> str:
    return reverse(
        "connections:plan_part", kwargs={"handle": handle_of(other), "public_id": plan.public_id}
    )


def test_the_plan_part_is_the_page_part_or_the_lists_row_as_the_viewer_reads_it(
    ana: User,  # noqa: F811
    ben: User,  # noqa: F811
) -> None:
    at = in_days(2)
    plan = plan_propose(proposer_id=ana.pk, other_id=ben.pk, times=[at])
    ana_client, ben_client = client_for(ana), client_for(ben)

    page = ben_client.get(part_url(plan, ana))
    assert page.status_code == 200 and page["Cache-Control"].startswith("max-age=0")
    body = page.content.decode()
    assert body.strip().startswith('<div class="plan-part" id="plan-part"')
    assert "Accept this time" in body and "<html" not in body
    # Offered, not agreed: on Ana's page for Ben, not among People's planned calls.
    assert ben_client.get(part_url(plan, ana) + "?as=person").status_code == 200
    assert ben_client.get(part_url(plan, ana) + "?as=people").status_code == 204

    plan_accept(user_id=ben.pk, public_id=plan.public_id, at=at)
    row = ana_client.get(part_url(plan, ben) + "?as=people").content.decode()
    assert row.strip().startswith(f'<li class="plan-item" id="plan-{plan.public_id}"')
    assert f"<strong>{at.astimezone(SAO_PAULO):%a %H:%M}</strong> for you" in row
    opens = (at - timedelta(minutes=5)).astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert f'data-join-opens="{opens}"' in row

    plan_cancel(user_id=ana.pk, public_id=plan.public_id)
    assert ana_client.get(part_url(plan, ben) + "?as=people").status_code == 204
    assert ana_client.get(part_url(plan, ben) + "?as=person").status_code == 204
    assert "Cancelled" in ana_client.get(part_url(plan, ben)).content.decode()
    assert ana_client.get(part_url(plan, ben) + "?as=elsewhere").status_code == 404


def test_nobody_else_reads_a_plans_part(ana: User, ben: User, sphere: Sphere) -> None:  # noqa: F811
    plan = plan_propose(proposer_id=ana.pk, other_id=ben.pk, times=[in_days(2)])
    cleo = make_member("cleo@example.com", name="Cleo")
    talk(sphere, ana, cleo)
    assert client_for(cleo).get(part_url(plan, ana)).status_code == 404
    assert Client().get(part_url(plan, ben)).status_code == 302
    block_create(blocker_id=ben.pk, blocked_id=ana.pk)
    assert client_for(ana).get(part_url(plan, ben)).status_code == 404


def test_people_and_a_persons_page_keep_an_empty_plans_list_for_plans_to_come(
    ana: User,  # noqa: F811
    ben: User,  # noqa: F811
) -> None:
    client = client_for(ana)
    person = reverse("connections:person", args=[handle_of(ben)])
    for url in (reverse("connections:people"), person):
        html = client.get(url).content.decode()
        assert 'id="plans-status" role="status" aria-live="polite"' in html
        assert "data-plan-list=" in html and 'aria-labelledby="plans-title"' in html
        assert "js/plans-live" in html
