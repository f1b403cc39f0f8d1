from django.apps import AppConfig


class SpheresConfig(AppConfig):
    name = "chatspheres.spheres"
    label = "spheres"
