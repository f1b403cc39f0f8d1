from django.apps import AppConfig


class MatchingConfig(AppConfig):
    name = "chatspheres.matching"
    label = "matching"
