from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "chatspheres.realtime"
    label = "realtime"

    def ready(self) -> None:
        # The core's own observers, then every app's realtime.py (the way the
        # admin finds admin.py): a message type declared twice stops start-up.
        from chatspheres.realtime import gateway, sessions  # noqa: F401
        from chatspheres.realtime.registry import autodiscover

        autodiscover()
