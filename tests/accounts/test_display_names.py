"""Display names: visible letters required; bidi controls and invisible characters stripped."""

from __future__ import annotations

import unicodedata

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from chatspheres.accounts.handles import handle_base, handle_problem
from chatspheres.accounts.models import Profile
from chatspheres.accounts.names import (
    BIDI_CONTROLS,
    BLANK_LETTERS,
    ZERO_WIDTH,
    display_name_clean,
    display_name_strip,
)
from chatspheres.common.errors import ApplicationError
from tests.conftest import make_member

INVISIBLE = sorted(BIDI_CONTROLS | ZERO_WIDTH | BLANK_LETTERS)
REFUSAL = "A display name needs at least one visible letter."

invisible_text = st.text(alphabet=st.sampled_from([*INVISIBLE, " ", "\t", "\u00ad"]))
any_name = st.text(max_size=60)


@given(any_name)
def test_a_cleaned_name_holds_no_bidi_control_or_invisible_character(text: str) -> None:
    name = display_name_strip(text)
    assert not set(name) & (BIDI_CONTROLS | ZERO_WIDTH | BLANK_LETTERS)
    assert all(unicodedata.category(c) not in {"Cf", "Cc"} for c in name)
    assert name == name.strip() and "  " not in name


@given(invisible_text)
def test_a_name_made_only_of_invisible_characters_is_refused(text: str) -> None:
    with pytest.raises(ApplicationError, match=REFUSAL):
        display_name_clean(text)


@given(st.text(alphabet=st.characters(categories=["Lu", "Ll", "Lo"]), min_size=1, max_size=20),
       invisible_text, invisible_text)  # fmt: skip
def test_visible_letters_survive_whatever_invisible_characters_surround_them(
    letters: str, before: str, after: str
) -> None:
    letters = display_name_strip(letters)
    if not letters:
        return
    assert display_name_clean(before + letters + after) == letters


def test_a_right_to_left_override_cannot_reverse_how_a_name_reads() -> None:
    assert display_name_clean("Ana\u202egnp.exe\u202c") == "Anagnp.exe"
    assert display_name_clean("\u2067Ben\u2069 \u200bK.") == "Ben K."


def test_letters_of_every_script_are_kept() -> None:
    for name in ("Zoë", "Мария", "محمد", "李小龍", "Ana María"):
        assert display_name_clean(name) == name


@pytest.mark.django_db
def test_the_profile_page_refuses_an_invisible_name_in_words(client: Client) -> None:
    member = make_member("ana@example.com", name="Ana")
    client.force_login(member)
    response = client.post("/profile/", {"display_name": "\u200b\u202e\u3164 ", "time_zone": "UTC"})
    assert response.status_code == 200
    assert REFUSAL in response.content.decode()
    assert Profile.objects.get(user=member).display_name == "Ana"


@pytest.mark.django_db
def test_sign_up_strips_bidi_controls_from_the_name(client: Client) -> None:
    client.post(
        "/accounts/signup/",
        {
            "email": "ana@example.com",
            "password1": "correct horse battery staple",
            "display_name": "\u202eAna\u202c",
            "is_adult": "on",
        },
    )
    assert Profile.objects.get(user__email="ana@example.com").display_name == "Ana"


@pytest.mark.django_db
def test_sign_up_refuses_an_invisible_name_in_words(client: Client) -> None:
    response = client.post(
        "/accounts/signup/",
        {
            "email": "ana@example.com",
            "password1": "correct horse battery staple",
            "display_name": "\u3164\u3164",
            "is_adult": "on",
        },
    )
    assert response.status_code == 200
    assert REFUSAL in response.content.decode()
    assert not Profile.objects.exists()


def test_no_member_handle_looks_like_a_deleted_accounts() -> None:
    assert handle_problem("deleted-1234") is not None
    assert not handle_base("Deleted Dan").startswith("deleted-")


def test_nobody_can_take_the_name_deleted_accounts_are_shown_with() -> None:
    with pytest.raises(ApplicationError, match="is how the site shows a deleted account"):
        display_name_clean("deleted \u200bMEMBER")
