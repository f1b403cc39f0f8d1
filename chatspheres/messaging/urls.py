from django.urls import path

from chatspheres.messaging import views

app_name = "messaging"

# "settings" is a reserved handle and "m" too short for one, so no thread page is shadowed.
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("m/unread/", views.unread, name="unread"),
    path("settings/", views.settings_save, name="settings"),
    path("m/<int:message_id>/report/", views.report, name="report"),
    path("<slug:handle>/", views.thread, name="thread"),
    path("<slug:handle>/older/", views.older, name="older"),
    path("<slug:handle>/send/", views.send, name="send"),
    path("<slug:handle>/read/", views.read, name="read"),
]
