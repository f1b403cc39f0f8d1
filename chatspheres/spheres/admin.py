from django.contrib import admin
from django.http import HttpRequest

from chatspheres.spheres.models import Membership, Sphere, SphereActivity, SphereWatch


@admin.register(Sphere)
class SphereAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name", "description"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "sphere", "created"]
    list_select_related = ["user", "sphere"]
    raw_id_fields = ["user"]


@admin.register(SphereActivity)
class SphereActivityAdmin(admin.ModelAdmin):
    """Read only: the figures follow the conversations that start."""

    list_display = ["sphere", "conversations", "busiest_hour_utc", "updated"]
    list_select_related = ["sphere"]
    readonly_fields = ["sphere", "conversations", "week_hours", "busiest_hour_utc", "recent_rank"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(SphereWatch)
class SphereWatchAdmin(admin.ModelAdmin):
    list_display = ["user", "sphere", "notified_at"]
    list_select_related = ["user", "sphere"]
    raw_id_fields = ["user"]
