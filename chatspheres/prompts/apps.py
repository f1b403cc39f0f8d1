from django.apps import AppConfig


class PromptsConfig(AppConfig):
    name = "chatspheres.prompts"
    label = "prompts"
    verbose_name = "Prompts"
