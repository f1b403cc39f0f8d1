from django.urls import path

from chatspheres.safety import views

app_name = "safety"

urlpatterns = [
    path("block/<slug:handle>/", views.block, name="block"),
    path("unblock/<slug:handle>/", views.unblock, name="unblock"),
    path("report/<slug:handle>/", views.report, name="report"),
]
