from django.contrib import admin
from django.urls import include, path

from chatspheres.common import views as common_views

urlpatterns = [
    path("", common_views.home, name="home"),
    path("accounts/", include("allauth.urls")),
    path("profile/", include("chatspheres.accounts.urls")),
    path("welcome/", include("chatspheres.accounts.onboarding.urls")),
    path("spheres/", include("chatspheres.spheres.urls")),
    path("people/", include("chatspheres.connections.urls")),
    path("notifications/", include("chatspheres.notifications.urls")),
    path("prompts/", include("chatspheres.prompts.urls")),
    path("", include("chatspheres.calls.urls")),
    path("admin/", admin.site.urls),
]
