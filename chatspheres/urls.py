from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from chatspheres.common import views as common_views

urlpatterns = [
    path("", common_views.home, name="home"),
    path("accounts/", include("allauth.urls")),
    path("profile/", include("chatspheres.accounts.urls")),
    path("welcome/", include("chatspheres.accounts.onboarding.urls")),
    path("spheres/", include("chatspheres.spheres.urls")),
    path("people/", include("chatspheres.connections.urls")),
    path("notifications/", include("chatspheres.notifications.urls")),
    path("messages/", include("chatspheres.messaging.urls")),
    path("moderation/", include("chatspheres.moderation.urls")),
    path("safety/", include("chatspheres.safety.urls")),
    path("prompts/", include("chatspheres.prompts.urls")),
    path("", include("chatspheres.common.pages")),
    path("", include("chatspheres.calls.urls")),
    # The admin's own login has no lockout; allauth's login counts failures
    # and locks, so staff sign in there (?next= brings them back to the admin).
    path(
        "admin/login/",
        RedirectView.as_view(pattern_name="account_login", query_string=True),
        name="admin_login_redirect",
    ),
    path("admin/", admin.site.urls),
]

# The error pages in the site's layout; allauth answers its own limits with handler429.
handler403 = "chatspheres.common.views.permission_denied"
handler404 = "chatspheres.common.views.page_not_found"
handler500 = "chatspheres.common.views.server_error"
handler429 = "chatspheres.common.views.too_many_requests"
