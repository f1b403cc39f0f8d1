"""Decks and their prompts, editable in the admin."""

from __future__ import annotations

from django.contrib import admin

from chatspheres.prompts.models import Deck, Prompt


class PromptInline(admin.TabularInline):
    model = Prompt
    extra = 1
    fields = ("text", "depth", "active")


@admin.register(Deck)
class DeckAdmin(admin.ModelAdmin):
    list_display = ("name", "house", "sphere")
    list_select_related = ("sphere",)
    inlines = (PromptInline,)


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ("text", "deck", "depth", "active")
    list_filter = ("depth", "active", "deck")
    list_select_related = ("deck",)
    search_fields = ("text",)
