from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "chatspheres.messaging"
    label = "messaging"

    def ready(self) -> None:
        from chatspheres.messaging.emails import register

        register()
