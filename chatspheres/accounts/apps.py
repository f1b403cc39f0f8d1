from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "chatspheres.accounts"
    label = "accounts"

    def ready(self) -> None:
        from chatspheres.accounts import signals  # noqa: F401
