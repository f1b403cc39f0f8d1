"""Two members who talked, two moderators, and a report of one by the other: most moderation
tests start here (a module that needs other people defines its own ``people`` and ``report``)."""

from __future__ import annotations

import pytest

from chatspheres.accounts.models import User
from chatspheres.safety.models import Report
from chatspheres.spheres.models import Sphere
from tests.conftest import make_member
from tests.moderation.helpers import make_moderator, make_report, talk


@pytest.fixture
def people(sphere: Sphere) -> dict[str, User]:
    return {
        "ana": make_member("ana@example.com", name="Ana", spheres=(sphere,)),
        "ben": make_member("ben@example.com", name="Ben", spheres=(sphere,)),
        "mia": make_moderator("mia@example.com", name="Mia"),
        "max": make_moderator("max@example.com", name="Max"),
    }


@pytest.fixture
def report(people: dict[str, User], sphere: Sphere) -> Report:
    conversation = talk(sphere, people["ana"], people["ben"])
    return make_report(people["ana"], people["ben"], conversation=conversation)
