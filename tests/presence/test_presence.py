"""Presence rows: who is online and where, for pages, written in batches by the server processes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from chatspheres.presence.models import Presence
from chatspheres.presence.selectors import (
    MemberPresence,
    online_counts_by_sphere,
    presence_of,
)
from chatspheres.presence.services import presence_record
from chatspheres.presence.tracker import HEARTBEAT_SECONDS, ONLINE_SECONDS
from chatspheres.spheres.models import Sphere
from chatspheres.spheres.services import sphere_upsert
from tests.conftest import make_member

pytestmark = pytest.mark.django_db


def record(**changes: object) -> None:
    values: dict[str, object] = {"seen": {}, "refresh": [], "offline": []}
    values.update(changes)
    presence_record(**values, online_for=ONLINE_SECONDS, refresh_every=HEARTBEAT_SECONDS)  # type: ignore[arg-type]


def test_every_member_asked_for_is_answered_in_one_query(
    sphere: Sphere, django_assert_num_queries: object
) -> None:
    ana, ben, cleo = (make_member(f"{n}@example.com") for n in ("ana", "ben", "cleo"))
    record(seen={ana.pk: sphere.pk, ben.pk: None})
    record(offline=[ben.pk])
    with django_assert_num_queries(1):  # type: ignore[operator]
        found = presence_of(user_ids=[ana.pk, ben.pk, cleo.pk, 999_999])
    assert found[ana.pk].online and found[ana.pk].sphere_name == "Book Club"
    assert found[ana.pk].sphere_id == sphere.pk
    assert not found[ben.pk].online and found[ben.pk].last_seen is not None
    assert found[ben.pk].sphere_id is None
    never = MemberPresence(online=False, sphere_id=None, sphere_name="", last_seen=None)
    assert found[cleo.pk] == found[999_999] == never


def test_a_member_whose_process_died_goes_offline_once_their_time_runs_out(sphere: Sphere) -> None:
    ana = make_member("ana@example.com")
    record(seen={ana.pk: sphere.pk})
    assert presence_of(user_ids=[ana.pk])[ana.pk].online
    # No heartbeat comes any more: a minute later the row has run out.
    Presence.objects.filter(user_id=ana.pk).update(
        online_until=timezone.now() - timedelta(seconds=1)
    )
    seen = presence_of(user_ids=[ana.pk])[ana.pk]
    assert not seen.online and seen.sphere_name == "" and seen.last_seen is not None


def test_a_refresh_pushes_the_time_ahead_unless_another_process_just_did(sphere: Sphere) -> None:
    ana = make_member("ana@example.com")
    record(seen={ana.pk: sphere.pk})
    first = Presence.objects.get(user_id=ana.pk).online_until
    record(refresh=[ana.pk])
    assert Presence.objects.get(user_id=ana.pk).online_until == first
    Presence.objects.filter(user_id=ana.pk).update(
        online_until=timezone.now() + timedelta(seconds=ONLINE_SECONDS - HEARTBEAT_SECONDS)
    )
    record(refresh=[ana.pk])
    assert Presence.objects.get(user_id=ana.pk).online_until > first


def test_online_counts_by_sphere_counts_members_online_now_in_one_query(
    sphere: Sphere, django_assert_num_queries: object
) -> None:
    garden = sphere_upsert(slug="garden", name="Garden", tagline="", description="")
    members = [make_member(f"m{n}@example.com") for n in range(5)]
    record(
        seen={
            members[0].pk: sphere.pk,
            members[1].pk: sphere.pk,
            members[2].pk: garden.pk,
            members[3].pk: None,
            members[4].pk: garden.pk,
        }
    )
    record(offline=[members[4].pk])
    with django_assert_num_queries(1):  # type: ignore[operator]
        counts = online_counts_by_sphere()
    assert counts == {sphere.pk: 2, garden.pk: 1}


def test_a_sphere_deleted_meanwhile_is_written_as_no_sphere(sphere: Sphere) -> None:
    ana = make_member("ana@example.com")
    record(seen={ana.pk: 987_654})
    seen = presence_of(user_ids=[ana.pk])[ana.pk]
    assert (seen.online, seen.sphere_id, seen.sphere_name) == (True, None, "")
