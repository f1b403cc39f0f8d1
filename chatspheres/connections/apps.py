from django.apps import AppConfig


class ConnectionsConfig(AppConfig):
    name = "chatspheres.connections"
    label = "connections"

    def ready(self) -> None:
        # calls may not import connections; it offers hooks that are filled here.
        from chatspheres.connections import hooks

        hooks.install()
