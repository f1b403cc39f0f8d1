"""Follows and bonds for staff. Notes and wishes are not here: only their author sees them."""

from django.contrib import admin

from chatspheres.connections.models import Bond, Follow


@admin.register(Follow)
class FollowAdmin(admin.ModelAdmin):
    list_display = ["follower", "followee", "created"]
    raw_id_fields = ["follower", "followee"]


@admin.register(Bond)
class BondAdmin(admin.ModelAdmin):
    list_display = ["user", "other", "stage", "positive_conversations", "conversations"]
    list_filter = ["stage"]
    raw_id_fields = ["user", "other", "last_conversation"]
    readonly_fields = [
        "conversations",
        "last_conversation",
        "last_talked_at",
        "positive_conversations",
        "stage",
        "lukewarm",
        "connected_at",
    ]
