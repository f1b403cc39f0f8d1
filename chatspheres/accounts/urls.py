from django.urls import path

from chatspheres.accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.profile_edit, name="profile"),
    path("data/", views.account_data_download, name="data"),
    path("delete/", views.account_delete_confirm, name="delete"),
]
