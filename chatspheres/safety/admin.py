from django.contrib import admin
from django.http import HttpRequest

from chatspheres.safety.models import Block, Report


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    list_display = ("blocker", "blocked", "created")
    raw_id_fields = ("blocker", "blocked")


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ("pk", "subject_label", "reason", "state", "created")
    list_filter = ("state", "reason")
    raw_id_fields = ("reporter", "subject", "conversation", "sphere")
    # Reports are handled on the moderator page; the admin only reads them.
    readonly_fields = (
        "reporter",
        "subject",
        "subject_label",
        "reason",
        "details",
        "conversation",
        "sphere",
        "chat_excerpt",
        "state",
    )

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
