from django.contrib import admin

from chatspheres.spheres.models import Membership, Sphere


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
