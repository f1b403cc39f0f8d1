from django.apps import AppConfig


class ModerationConfig(AppConfig):
    name = "chatspheres.moderation"
    label = "moderation"

    def ready(self) -> None:
        from chatspheres.moderation import receivers  # noqa: F401
