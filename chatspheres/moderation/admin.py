"""The moderation records in the admin: to look things up, never to decide (that is /moderation/).

Decisions and appeals change only through the services, which log and tell
the people concerned, so the admin shows them read-only; the audit log has no
add, change or delete permission at all.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from chatspheres.moderation.models import Appeal, AuditEntry, Decision, InterestReview


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ("created", "action", "subject", "moderator", "ends_at", "lifted_at")
    list_filter = ("action",)
    search_fields = ("subject__email", "statement")
    raw_id_fields = ("report", "subject", "moderator")


@admin.register(Appeal)
class AppealAdmin(ReadOnlyAdmin):
    list_display = ("created", "decision", "state", "decided_by", "decided_at")
    list_filter = ("state",)
    raw_id_fields = ("decision", "appellant", "decided_by")


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("at", "kind", "action", "actor_label", "subject_label", "report_id")
    list_filter = ("kind",)
    search_fields = ("actor_label", "subject_label", "reasons")


@admin.register(InterestReview)
class InterestReviewAdmin(ReadOnlyAdmin):
    list_display = ("created", "interest", "approved", "moderator")
    list_filter = ("approved",)
