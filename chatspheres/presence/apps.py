from django.apps import AppConfig


class PresenceConfig(AppConfig):
    name = "chatspheres.presence"
    label = "presence"
