"""`manage.py moderator`: how an operator makes someone a moderator, and it is logged."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from chatspheres.moderation.models import AuditEntry
from chatspheres.moderation.selectors import can_moderate
from tests.conftest import make_member

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("moderator", *args, stdout=out)
    return out.getvalue().strip()


def test_an_operator_adds_and_removes_a_moderator() -> None:
    mia = make_member("mia@example.com", name="Mia")
    assert not can_moderate(mia)
    assert run("Mia@Example.com") == "Mia@Example.com is a moderator now: /moderation/."
    assert can_moderate(mia)
    assert run("mia@example.com") == "mia@example.com was a moderator already."
    assert run("mia@example.com", "--remove") == "mia@example.com is no longer a moderator."
    assert not can_moderate(mia)
    assert list(AuditEntry.objects.values_list("kind", "action", "subject_id")) == [
        ("moderator_change", "add", mia.pk),
        ("moderator_change", "remove", mia.pk),
    ]


def test_an_unknown_address_is_said_so() -> None:
    with pytest.raises(
        CommandError, match=re.escape("No account uses the address nobody@example.com.")
    ):
        run("nobody@example.com")
