"""Conversations saved before each person had their own row keep their tabs and answers."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("calls", "0002_tab_not_ticket")]
AFTER = [("calls", "0003_conversation_participants")]


@pytest.mark.django_db(transaction=True)
def test_each_side_of_an_old_conversation_becomes_its_own_row() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    User = old.get_model("accounts", "User")
    Sphere = old.get_model("spheres", "Sphere")
    Conversation = old.get_model("calls", "Conversation")
    ana = User.objects.create(email="ana@example.com")
    ben = User.objects.create(email="ben@example.com")
    sphere = Sphere.objects.create(name="Book Club", slug="book-club")
    started = timezone.now() - timezone.timedelta(days=3)
    saved = Conversation.objects.create(
        public_id="old-conversation",
        sphere=sphere,
        user_a=ana,
        user_b=ben,
        a_tab="ana-tab",
        b_tab="ben-tab",
        a_rating="good",
        b_rating="okay",
        state="ended",
        started_at=started,
    )

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    Participant = new.get_model("calls", "Participant")
    sides = {
        side.user_id: (side.partner_id, side.tab, side.rating, side.created)
        for side in Participant.objects.filter(conversation_id=saved.pk)
    }
    assert sides == {
        ana.pk: (ben.pk, "ana-tab", "good", started),
        ben.pk: (ana.pk, "ben-tab", "okay", started),
    }
    assert new.get_model("calls", "Conversation").objects.get(pk=saved.pk).kind == "matched"

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
