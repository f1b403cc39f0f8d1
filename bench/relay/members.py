"""Real members for the relay benchmark, made in the scratch database.

Each simulated tab is its own signed-in member with a Profile and one
Membership. Members of pair ``k`` belong to sphere ``k % lanes``, so pairs in
different spheres can queue at the same time without ever matching across
pairs, while inside a sphere the pairs queue one after the other.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.common import session_cookies


@dataclass(frozen=True)
class Members:
    user_ids: list[int]
    cookies: list[str]
    # The sphere each pair (2k, 2k + 1) queues in.
    sphere_of_pair: list[int]

    def after(self, offset: int) -> Members:
        """The members from ``offset`` on (an even number): another side's own members."""
        assert offset % 2 == 0 and offset < len(self.user_ids)
        return Members(
            user_ids=self.user_ids[offset:],
            cookies=self.cookies[offset:],
            sphere_of_pair=self.sphere_of_pair[offset // 2 :],
        )


def create_members(count: int, *, lanes: int) -> Members:
    """``count`` members (an even number) with profiles, memberships and sessions."""
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.utils import timezone

    from chatspheres.accounts.models import Profile, User
    from chatspheres.spheres.models import Membership, Sphere

    assert count % 2 == 0
    now = timezone.now()
    with transaction.atomic():
        spheres = Sphere.objects.bulk_create(
            Sphere(
                slug=f"relay-bench-{lane}",
                name=f"Relay bench {lane}",
                description="Members who ping-pong signaling for the relay benchmark.",
            )
            for lane in range(lanes)
        )
        # make_password(None) is an unusable password: no hashing cost, and a
        # session still authenticates (its hash is an HMAC of this string).
        users = User.objects.bulk_create(
            User(email=f"relay{index}@bench.invalid", password=make_password(None))
            for index in range(count)
        )
        Profile.objects.bulk_create(
            Profile(
                user=user,
                display_name=f"Relay {index}",
                handle=f"relay-{index}",
                adult_confirmed_at=now,
            )
            for index, user in enumerate(users)
        )
        sphere_of_pair = [spheres[pair % lanes].pk for pair in range(count // 2)]
        Membership.objects.bulk_create(
            Membership(user=user, sphere_id=sphere_of_pair[index // 2])
            for index, user in enumerate(users)
        )
    user_ids = [user.pk for user in users]
    cookies = session_cookies(user_ids)  # ordered by pk, as user_ids are
    assert len(cookies) == count
    return Members(user_ids=user_ids, cookies=cookies, sphere_of_pair=sphere_of_pair)
