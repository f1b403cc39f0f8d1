from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "chatspheres.notifications"
    label = "notifications"
