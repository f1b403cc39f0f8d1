from django.apps import AppConfig


class ModerationConfig(AppConfig):
    name = "chatspheres.moderation"
    label = "moderation"
