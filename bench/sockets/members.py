"""Many signed-in members, fast: bulk rows instead of one transaction per member.

``bench.common.session_cookies`` saves one session per transaction, which is
fine for tens of members; here there are 10,000. The rows are the same a
browser sign-in would leave (a ``Profile`` per member, a database session
carrying the user id, the backend and the session auth hash), only written
in batches.
"""

from __future__ import annotations

from datetime import timedelta

BATCH = 1000


def create_members(count: int, *, prefix: str = "idle") -> list[int]:
    """``count`` members with unusable passwords and a profile each; their ids."""
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.utils import timezone

    from chatspheres.accounts.models import Profile, User

    now = timezone.now()
    ids: list[int] = []
    for first in range(0, count, BATCH):
        numbers = range(first, min(count, first + BATCH))
        with transaction.atomic():
            users = User.objects.bulk_create(
                # make_password(None) is an unusable password ("!" + random), as for
                # someone who never set one; hashing 10,000 real passwords would take minutes.
                User(email=f"{prefix}-{n}@bench.invalid", password=make_password(None))
                for n in numbers
            )
            Profile.objects.bulk_create(
                Profile(
                    user=user, display_name=f"Idle {n}", handle=f"idle-{n}", adult_confirmed_at=now
                )
                for n, user in zip(numbers, users, strict=True)
            )
        ids.extend(int(user.pk) for user in users)
    return ids


def bulk_session_cookies(user_ids: list[int]) -> list[str]:
    """A signed-in database session per member (in ``user_ids`` order), as Cookie headers."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.db import transaction
    from django.utils import timezone
    from django.utils.crypto import get_random_string
    from django.utils.module_loading import import_string

    from chatspheres.accounts.models import User

    store_class = import_string(settings.SESSION_ENGINE + ".SessionStore")
    if not hasattr(store_class, "get_model_class"):
        from bench.common import session_cookies

        return session_cookies(user_ids)  # not database sessions: the slow, general way

    model = store_class.get_model_class()
    encoder = store_class()
    expires = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    users = {user.pk: user for user in User.objects.filter(pk__in=user_ids)}
    cookies = []
    rows = []
    for user_id in user_ids:
        user = users[user_id]
        key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
        data = {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
            HASH_SESSION_KEY: user.get_session_auth_hash(),
        }
        rows.append(model(session_key=key, session_data=encoder.encode(data), expire_date=expires))
        cookies.append(f"{settings.SESSION_COOKIE_NAME}={key}")
    with transaction.atomic():
        model.objects.bulk_create(rows, batch_size=BATCH)
    return cookies
