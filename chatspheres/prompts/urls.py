from django.urls import path

from chatspheres.prompts import views

app_name = "prompts"

urlpatterns = [
    path("profile/", views.profile_answers, name="profile_answers"),
]
