from django.contrib import admin
from django.http import HttpRequest

from chatspheres.calls.models import Conversation, Participant


class ParticipantInline(admin.TabularInline):
    model = Participant
    fk_name = "conversation"
    fields = readonly_fields = ("user", "tab", "rating")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    inlines = [ParticipantInline]
    list_display = [
        "public_id",
        "sphere",
        "kind",
        "user_a",
        "user_b",
        "state",
        "started_at",
        "end_reason",
    ]
    list_filter = ["kind", "state", "end_reason", "sphere"]
    list_select_related = ["sphere", "user_a", "user_b"]
    readonly_fields = [field.name for field in Conversation._meta.fields]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
