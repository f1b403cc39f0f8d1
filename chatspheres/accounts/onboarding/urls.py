from django.urls import path

from chatspheres.accounts.onboarding import views

app_name = "welcome"

urlpatterns = [
    path("", views.welcome_profile, name="profile"),
    path("spheres/", views.welcome_spheres, name="spheres"),
    path("start/", views.welcome_start, name="start"),
]
