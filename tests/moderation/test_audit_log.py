"""The audit log is append-only: no code path can change or delete a line of it."""

from __future__ import annotations

import pytest

from chatspheres.moderation.models import AuditEntry

pytestmark = pytest.mark.django_db

REFUSAL = "The moderation audit log is append-only."


@pytest.fixture
def entry() -> AuditEntry:
    return AuditEntry.objects.create(
        kind=AuditEntry.Kind.DECISION,
        action="ban",
        actor_id=1,
        actor_label="Mia <mia@example.com>",
        subject_id=2,
        subject_label="Ben <ben@example.com>",
        report_id=3,
        decision_id=4,
        reasons="Threats in the chat.",
    )


def test_saving_an_existing_entry_is_refused(entry: AuditEntry) -> None:
    entry.reasons = "Nothing happened."
    with pytest.raises(PermissionError, match=REFUSAL):
        entry.save()
    assert AuditEntry.objects.get().reasons == "Threats in the chat."


def test_deleting_an_entry_is_refused(entry: AuditEntry) -> None:
    with pytest.raises(PermissionError, match=REFUSAL):
        entry.delete()
    assert AuditEntry.objects.count() == 1


def test_bulk_updates_and_deletes_are_refused(entry: AuditEntry) -> None:
    with pytest.raises(PermissionError, match=REFUSAL):
        AuditEntry.objects.filter(pk=entry.pk).update(reasons="Nothing happened.")
    with pytest.raises(PermissionError, match=REFUSAL):
        AuditEntry.objects.all().delete()
    with pytest.raises(PermissionError, match=REFUSAL):
        AuditEntry.objects.update(action="warn")
    assert AuditEntry.objects.get().reasons == "Threats in the chat."


def test_new_entries_are_added(entry: AuditEntry) -> None:
    AuditEntry.objects.create(
        kind=AuditEntry.Kind.APPEAL_OUTCOME,
        action="upheld",
        actor_id=5,
        actor_label="Max <max@example.com>",
        reasons="The chat shows it.",
    )
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["ban", "upheld"]


def test_the_admin_may_not_add_change_or_delete_entries(entry: AuditEntry, rf: object) -> None:
    from django.contrib import admin
    from django.test import RequestFactory

    model_admin = admin.site._registry[AuditEntry]
    request = RequestFactory().get("/admin/moderation/auditentry/")
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, entry)
    assert not model_admin.has_delete_permission(request, entry)
