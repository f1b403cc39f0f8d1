from django.apps import AppConfig


class SafetyConfig(AppConfig):
    name = "chatspheres.safety"
    label = "safety"
