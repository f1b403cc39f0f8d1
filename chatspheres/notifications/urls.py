from django.urls import path

from chatspheres.notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.notification_list, name="list"),
    path("panel/", views.notification_panel, name="panel"),
    path("unread/", views.notification_unread, name="unread"),
    path("read/", views.notification_read_all, name="read_all"),
    path("<int:notification_id>/read/", views.notification_read, name="read"),
    path("preferences/", views.notification_preferences, name="preferences"),
    path("unsubscribe/<str:token>/", views.email_unsubscribe, name="unsubscribe"),
]
