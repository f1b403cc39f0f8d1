"""Handles: made at sign-up, unique and address-safe, changed once a month on the profile page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from chatspheres.accounts.handles import RESERVED_HANDLES, handle_base, handle_problem
from chatspheres.accounts.models import Profile, User
from chatspheres.accounts.services import profiles_ensure
from tests.conftest import make_member
from tests.connections.helpers import text_of

pytestmark = pytest.mark.django_db


def sign_up(client: Client, email: str, name: str) -> None:
    client.post(
        "/accounts/signup/",
        {
            "email": email,
            "password1": "correct horse battery staple",
            "display_name": name,
            "is_adult": "on",
            "time_zone": "Europe/Paris",
        },
    )


def test_sign_up_makes_a_handle_from_the_display_name_with_a_suffix_when_taken() -> None:
    sign_up(Client(), "ana@example.com", "Ana María")
    sign_up(Client(), "ana2@example.com", "Ana María")
    first = Profile.objects.get(user__email="ana@example.com").handle
    second = Profile.objects.get(user__email="ana2@example.com").handle
    assert first == "ana-maria"
    assert second.startswith("ana-maria-") and len(second) == len("ana-maria-") + 4
    assert handle_problem(second) is None


def test_an_account_made_elsewhere_gets_a_handle_too() -> None:
    admin = User.objects.create_superuser(email="root@example.com", password="x" * 20)
    profile = profiles_ensure(user_ids=[admin.pk])[admin.pk]
    assert profile.handle == "root-member"  # "root" is reserved


@given(st.text(max_size=80))
@settings(max_examples=200, deadline=None)
def test_any_display_name_gives_a_valid_handle(name: str) -> None:
    assert handle_problem(handle_base(name)) is None


def change_handle(client: Client, handle: str) -> str:
    response = client.post("/profile/", {"form": "handle", "handle": handle}, follow=True)
    return text_of(response.content)


def test_a_handle_is_changed_once_a_month_with_clear_words(client: Client) -> None:
    ana = make_member("ana@example.com", name="Ana")
    make_member("ben@example.com", name="Ben")
    client.force_login(ana)
    assert "Your handle is now ana-reads." in change_handle(client, "Ana-Reads")
    assert Profile.objects.get(user=ana).handle == "ana-reads"
    words = change_handle(client, "ana-writes")
    assert "You can change your handle once a month." in words
    assert Profile.objects.get(user=ana).handle == "ana-reads"
    Profile.objects.filter(user=ana).update(handle_changed_at=timezone.now() - timedelta(days=31))
    assert "The handle “ben” is taken." in change_handle(client, "ben")
    assert "Your handle is now ana-writes." in change_handle(client, "ana-writes")


@pytest.mark.parametrize(
    "word", sorted(RESERVED_HANDLES & {"people", "admin", "notifications", "welcome"})
)
def test_reserved_words_are_refused(client: Client, word: str) -> None:
    client.force_login(make_member("ana@example.com", name="Ana"))
    assert f"“{word}” is reserved for the site." in change_handle(client, word)
    assert Profile.objects.get().handle == "ana"


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("ab", "A handle is 3 to 30 characters long (this one has 2)."),
        ("a" * 31, "A handle is 3 to 30 characters long (this one has 31)."),
        ("ana_b", "A handle may use only lower-case letters, digits and hyphens"),
        ("-ana", "cannot start or end with a hyphen"),
        ("an--a", "or have two in a row"),
        ("ana/../x", "A handle may use only lower-case letters, digits and hyphens"),
    ],
)
def test_a_handle_that_is_not_address_safe_is_refused(
    client: Client, typed: str, words: str
) -> None:
    client.force_login(make_member("ana@example.com", name="Ana"))
    assert words in change_handle(client, typed)
    assert Profile.objects.get().handle == "ana"


def test_the_profile_page_saves_who_sees_presence_and_whether_follows_are_announced(
    client: Client,
) -> None:
    ana = make_member("ana@example.com", name="Ana")
    client.force_login(ana)
    page = text_of(client.get("/profile/").content)
    assert "Who can see when I'm online" in page
    assert "Let people know when I follow them" in page
    profile = Profile.objects.get(user=ana)
    assert (profile.presence_visible_to, profile.announce_follows) == ("connections", True)
    response = client.post("/profile/", {"form": "privacy", "presence_visible_to": "nobody"})
    assert response.status_code == 302
    profile.refresh_from_db()
    assert (profile.presence_visible_to, profile.announce_follows) == ("nobody", False)


@pytest.mark.django_db(transaction=True)
def test_existing_profiles_get_unique_handles_in_the_migration() -> None:
    before = [("accounts", "0002_adult_confirmation_optional")]
    after = [("accounts", "0005_profile_handle_required")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    OldUser = old.get_model("accounts", "User")
    OldProfile = old.get_model("accounts", "Profile")
    for n, name in enumerate(["Ana", "Ana", "Me", "李"]):
        user = OldUser.objects.create(email=f"m{n}@example.com")
        OldProfile.objects.create(user=user, display_name=name)

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    new = executor.loader.project_state(after).apps
    handles = list(new.get_model("accounts", "Profile").objects.values_list("handle", flat=True))
    assert len(set(handles)) == 4
    assert "ana" in handles and "me-member" in handles and "member" in handles
    assert all(handle_problem(handle) is None for handle in handles)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
