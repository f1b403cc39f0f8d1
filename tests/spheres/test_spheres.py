"""Browsing, joining and leaving spheres."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

from chatspheres.spheres.models import Membership, Sphere
from chatspheres.spheres.services import sphere_upsert
from tests.conftest import make_member

pytestmark = pytest.mark.django_db


def test_demo_content_loads_at_least_eight_spheres_and_is_idempotent() -> None:
    call_command("load_demo")
    first = list(Sphere.objects.values_list("slug", "description"))
    call_command("load_demo")
    assert list(Sphere.objects.values_list("slug", "description")) == first
    assert len(first) >= 8
    assert all(len(description) > 80 for _slug, description in first)


def test_home_page_says_what_chatspheres_is_and_lists_spheres_with_online_counts(
    client: Client,
) -> None:
    call_command("load_demo")
    page = client.get("/").content.decode()
    assert "live 1:1 video conversation" in page
    assert '<a href="/spheres/first-conversations/">First Conversations</a>' in page
    assert "0 online now" in page  # no server running: nobody is connected
    assert "Sign up" in page


def test_sphere_list_uses_a_fixed_number_of_queries(
    client: Client, django_assert_max_num_queries: object
) -> None:
    call_command("load_demo")
    member = make_member("ana@example.com", spheres=tuple(Sphere.objects.all()[:3]))
    client.force_login(member)
    for index in range(40):
        sphere_upsert(slug=f"extra-{index}", name=f"Extra {index}", tagline="", description="x")
    # Session, member (their profile read with them by the sign-in backend),
    # spheres, who is online, and the header's two counts (unread messages,
    # unread notifications, read together): the same for 3 or 43 spheres.
    with django_assert_max_num_queries(5):  # type: ignore[operator]
        assert client.get("/spheres/").status_code == 200


def test_joining_and_leaving_a_sphere(client: Client, sphere: Sphere) -> None:
    member = make_member("ana@example.com")
    client.force_login(member)
    page = client.get("/spheres/book-club/").content.decode()
    assert "Join sphere" in page and "Start a conversation" not in page

    response = client.post("/spheres/book-club/join/")
    assert response.status_code == 302
    page = client.get("/spheres/book-club/").content.decode()
    assert "Welcome to Book Club." in page
    assert "Start a conversation" in page and "Leave sphere" in page
    client.post("/spheres/book-club/join/")  # twice changes nothing
    assert Membership.objects.filter(user=member, sphere=sphere).count() == 1

    client.post("/spheres/book-club/leave/")
    assert not Membership.objects.filter(user=member, sphere=sphere).exists()


def test_joining_needs_a_post_and_a_login(client: Client, sphere: Sphere) -> None:
    assert client.post("/spheres/book-club/join/").status_code == 302  # to the login page
    assert not Membership.objects.exists()
    client.force_login(make_member("ana@example.com"))
    assert client.get("/spheres/book-club/join/").status_code == 405
    assert not Membership.objects.exists()


def test_an_unknown_sphere_is_a_404(client: Client) -> None:
    assert client.get("/spheres/no-such-sphere/").status_code == 404
