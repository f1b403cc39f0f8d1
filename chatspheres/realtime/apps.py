from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "chatspheres.realtime"
    label = "realtime"
