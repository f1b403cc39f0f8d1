"""One member's history, bulk-loaded: connections, past conversations, follows, notes, presence.

The viewer (member 1) has talked with every other member several times (10,000
conversations in all at the large size), is connected with each, follows some
and is followed by some, has a few notes about each of the first ones, and
sees some of them online. Each pair's bond is filled from its conversations
the way ``bond_recount`` fills it (each conversation rated by both sides).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class Tally:
    """One pair's conversations, counted."""

    count: int = 0
    positive: int = 0
    lukewarm: bool = False
    last_at: datetime | None = None
    last_id: int | None = None


@dataclass(frozen=True)
class Loaded:
    members: int
    connections: int
    conversations: int
    following: int
    followers: int
    notes: int


PASSWORD = "bench-password-not-secret"  # noqa: S105 - a throw-away scratch database
RATINGS = ("good", "good", "good", "okay", "")


def grow_to(*, people: int, conversations: int, rng: random.Random) -> Loaded:
    """Grow the viewer's world to ``people`` connections and ``conversations`` past talks."""
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.utils import timezone

    from chatspheres.accounts.models import Profile, User
    from chatspheres.calls.models import Conversation, Participant
    from chatspheres.connections.models import Bond, Follow, Note, TalkAgainWish, stage_for
    from chatspheres.presence.models import Presence
    from chatspheres.spheres.models import Sphere

    now = timezone.now()
    with transaction.atomic():
        spheres = list(Sphere.objects.order_by("pk"))
        if not spheres:
            Sphere.objects.bulk_create(
                Sphere(slug=f"sphere-{n}", name=f"Sphere {n}", tagline="", description="")
                for n in range(1, 11)
            )
            spheres = list(Sphere.objects.order_by("pk"))
        password = make_password(PASSWORD)
        have = User.objects.count()
        new_users = User.objects.bulk_create(
            User(email=f"member{n}@bench.invalid", password=password, is_active=True)
            for n in range(have + 1, people + 2)  # the viewer and ``people`` others
        )
        Profile.objects.bulk_create(
            Profile(
                user=user,
                display_name=f"Member {user.pk}",
                handle=f"member-{user.pk}",
                bio="I like talking about the things I care about.",
                time_zone="Europe/Paris",
                adult_confirmed_at=now,
            )
            for user in new_users
        )
        viewer = User.objects.order_by("pk").first()
        assert viewer is not None
        others = list(
            User.objects.exclude(pk=viewer.pk).order_by("pk").values_list("pk", flat=True)
        )
        fresh = [user.pk for user in new_users if user.pk != viewer.pk]

        # New conversations spread over the others, oldest first, over 60 days.
        have_conversations = Conversation.objects.count()
        wanted = conversations - have_conversations
        partners = [others[n % len(others)] for n in range(have_conversations, conversations)]
        starts = sorted(now - timedelta(days=rng.uniform(0, 60)) for _ in range(wanted))
        made = Conversation.objects.bulk_create(
            Conversation(
                sphere=rng.choice(spheres),
                user_a_id=viewer.pk,
                user_b_id=partner,
                state=Conversation.State.ENDED,
                started_at=started,
                ended_at=started + timedelta(minutes=8),
                end_reason=Conversation.EndReason.ENDED,
            )
            for partner, started in zip(partners, starts, strict=True)
        )
        sides = []
        for conversation in made:
            ratings = (rng.choice(RATINGS), rng.choice(RATINGS))
            for user_id, partner_id, rating in (
                (viewer.pk, conversation.user_b_id, ratings[0]),
                (conversation.user_b_id, viewer.pk, ratings[1]),
            ):
                sides.append(
                    Participant(
                        conversation=conversation,
                        user_id=user_id,
                        partner_id=partner_id,
                        tab="bench",
                        rating=rating,
                        created=conversation.started_at,
                    )
                )
        Participant.objects.bulk_create(sides, batch_size=2000)

        # Bonds from the whole history, as bond_recount computes them.
        Bond.objects.all().delete()
        tallies: dict[int, Tally] = {}
        theirs = dict(
            Participant.objects.filter(partner_id=viewer.pk).values_list(
                "conversation_id", "rating"
            )
        )
        rows = Participant.objects.filter(user_id=viewer.pk).values_list(
            "partner_id", "conversation_id", "rating", "created"
        )
        for partner_id, conversation_id, rating, created in rows.iterator():
            tally = tallies.setdefault(partner_id, Tally())
            other = theirs.get(conversation_id, "")
            tally.count += 1
            tally.positive += rating == other == "good"
            tally.lukewarm |= "okay" in (rating, other)
            if tally.last_at is None or created > tally.last_at:
                tally.last_at, tally.last_id = created, conversation_id
        bonds = [
            Bond(
                user_id=user_id,
                other_id=other_id,
                conversations=tally.count,
                last_conversation_id=tally.last_id,
                last_talked_at=tally.last_at,
                positive_conversations=tally.positive,
                stage=stage_for(tally.positive),
                lukewarm=tally.lukewarm,
                connected_at=tally.last_at,
            )
            for partner_id, tally in tallies.items()
            for user_id, other_id in ((viewer.pk, partner_id), (partner_id, viewer.pk))
        ]
        Bond.objects.bulk_create(bonds, batch_size=2000)
        TalkAgainWish.objects.bulk_create(
            [
                TalkAgainWish(wisher_id=a, about_id=b)
                for other in fresh
                for a, b in ((viewer.pk, other), (other, viewer.pk))
            ],
            ignore_conflicts=True,
        )
        Follow.objects.bulk_create(
            [Follow(follower_id=viewer.pk, followee_id=other) for other in fresh if other % 3 == 0]
            + [
                Follow(follower_id=other, followee_id=viewer.pk)
                for other in fresh
                if other % 4 == 0
            ],
            ignore_conflicts=True,
        )
        Note.objects.bulk_create(
            Note(author_id=viewer.pk, about_id=other, text=f"Note {n} about member {other}.")
            for other in fresh[:50]
            for n in range(3)
        )
        Presence.objects.bulk_create(
            Presence(
                user_id=other,
                online_until=now + timedelta(minutes=1) if other % 5 == 0 else now,
                sphere=rng.choice(spheres) if other % 5 == 0 else None,
                last_seen=now - timedelta(hours=rng.uniform(0, 500)),
            )
            for other in fresh
        )
    return Loaded(
        members=User.objects.count(),
        connections=Bond.objects.filter(user_id=viewer.pk, connected_at__isnull=False).count(),
        conversations=Conversation.objects.count(),
        following=Follow.objects.filter(follower_id=viewer.pk).count(),
        followers=Follow.objects.filter(followee_id=viewer.pk).count(),
        notes=Note.objects.count(),
    )
