from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from chatspheres.accounts.models import Interest, Profile, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "is_active", "is_staff", "date_joined"]
    search_fields = ["email", "profile__display_name"]
    fieldsets = (
        (None, {"fields": ["email", "password"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    )
    add_fieldsets = ((None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]}),)


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["display_name", "user", "time_zone", "created"]
    search_fields = ["display_name", "user__email"]
    raw_id_fields = ["user"]


@admin.register(Interest)
class InterestAdmin(admin.ModelAdmin):
    search_fields = ["name"]
