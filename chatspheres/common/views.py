"""The front page."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chatspheres.spheres.selectors import sphere_listings


def home(request: HttpRequest) -> HttpResponse:
    """What ChatSpheres is, and the spheres with who is online in each."""
    user_id = request.user.pk if request.user.is_authenticated else None
    return render(request, "home.html", {"listings": sphere_listings(user_id=user_id)})
