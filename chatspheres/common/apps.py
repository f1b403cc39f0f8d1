from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "chatspheres.common"
    label = "common"
