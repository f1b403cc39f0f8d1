from django.contrib import admin
from django.http import HttpRequest

from chatspheres.calls.models import Conversation


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["public_id", "sphere", "user_a", "user_b", "state", "started_at", "end_reason"]
    list_filter = ["state", "end_reason", "sphere"]
    list_select_related = ["sphere", "user_a", "user_b"]
    readonly_fields = [field.name for field in Conversation._meta.fields]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
