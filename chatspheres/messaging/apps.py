from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "chatspheres.messaging"
    label = "messaging"
