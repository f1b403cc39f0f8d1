from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "chatspheres.accounts"
    label = "accounts"
