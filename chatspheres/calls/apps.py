from django.apps import AppConfig


class CallsConfig(AppConfig):
    name = "chatspheres.calls"
    label = "calls"
