"""TURN credentials and "Hide my IP address": what a browser is given for a call, and when not."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from chatspheres.accounts.models import Profile
from chatspheres.accounts.services import profile_call_choices_update
from chatspheres.calls.events import MatchFound
from chatspheres.calls.ice import (
    MAX_TURN_CREDENTIAL_TTL,
    ice_config_for,
    ice_config_for_call,
    relay_available,
)
from chatspheres.calls.models import Conversation
from chatspheres.calls.services import conversation_end, conversation_start
from chatspheres.common.errors import ApplicationError, NotFound, PairingRefused
from chatspheres.common.events import Captured, ToTab
from chatspheres.connections.models import Ring
from chatspheres.connections.rings import ring_accept, ring_start
from chatspheres.connections.services import talk_again_wish
from chatspheres.matching.selectors import queue_request_for
from chatspheres.spheres.models import Sphere
from tests.conftest import make_member
from tests.connections.helpers import handle_of, set_online, talk

pytestmark = pytest.mark.django_db

SECRET = "a-shared-turn-secret"
STUN = {"urls": ["stun:stun.test:3478"]}
TURN_URL = "turn:turn.test:3478?transport=udp"
NO_RELAY_WORDS = (
    "This site has no relay configured, so it can't hide your IP address. "
    "Turn off “Hide my IP address” on your profile to talk."
)


@pytest.fixture
def turn(settings: Any) -> Any:
    """A site with STUN and a TURN relay that takes REST API credentials."""
    settings.ICE_SERVERS = [STUN]
    settings.TURN_URLS = [TURN_URL]
    settings.TURN_SECRET = SECRET
    settings.TURN_CREDENTIAL_TTL = 600
    return settings


@pytest.fixture
def no_turn(settings: Any) -> Any:
    """A site with STUN only."""
    settings.ICE_SERVERS = [STUN]
    settings.TURN_URLS = []
    settings.TURN_SECRET = ""
    return settings


def start(sphere: Sphere, a: Any, b: Any, **kwargs: Any) -> Conversation:
    return conversation_start(
        sphere_id=sphere.pk,
        a_user_id=a.pk,
        a_tab="tab-a",
        b_user_id=b.pk,
        b_tab="tab-b",
        shared_interests=[],
        **kwargs,
    )


def hide_ip(user: Any) -> None:
    Profile.objects.filter(user=user).update(hide_ip=True)


def turn_entry(servers: list[dict[str, Any]]) -> dict[str, Any]:
    (entry,) = [server for server in servers if "credential" in server]
    return entry


# The credentials ---------------------------------------------------------------


def test_credentials_follow_the_turn_rest_format_and_coturn_can_verify_them(
    turn: Any, sphere: Sphere
) -> None:
    ana, ben = make_member("ana@example.com"), make_member("ben@example.com")
    conversation = start(sphere, ana, ben)
    ice = ice_config_for(conversation=conversation, user_id=ana.pk, hide_ip=False, now=1_000_000)
    stun, relay = ice.servers
    assert stun == STUN
    assert relay["urls"] == [TURN_URL]
    # "<expiry unix time>:<user id>", and base64(HMAC-SHA1(secret, username)).
    assert relay["username"] == f"1000600:{ana.pk}"
    expected = hmac.new(SECRET.encode(), relay["username"].encode(), hashlib.sha1).digest()
    assert relay["credential"] == base64.b64encode(expected).decode()
    assert ice.expires_at == 1_000_600
    assert ice.transport_policy == "all"


def test_credentials_never_live_longer_than_an_hour(turn: Any, sphere: Sphere) -> None:
    turn.TURN_CREDENTIAL_TTL = 86_400  # refused by settings validation; capped here regardless
    ana, ben = make_member("ana@example.com"), make_member("ben@example.com")
    conversation = start(sphere, ana, ben)
    before = int(time.time())
    relay = turn_entry(
        ice_config_for(conversation=conversation, user_id=ana.pk, hide_ip=False).servers
    )
    expiry = int(relay["username"].split(":")[0])
    assert MAX_TURN_CREDENTIAL_TTL == 3600
    assert before < expiry <= int(time.time()) + 3600


def test_the_secret_never_reaches_a_browser(
    turn: Any, sphere: Sphere, sent_events: Captured
) -> None:
    ana, ben = make_member("ana@example.com"), make_member("ben@example.com")
    conversation = start(sphere, ana, ben)
    told = sent_events.of_type(MatchFound)
    assert len(told) == 2
    for sent in told:
        event = sent.event
        assert isinstance(event, MatchFound)
        (tab,) = sent.targets
        assert isinstance(tab, ToTab)
        # Each browser gets credentials of its own.
        assert turn_entry(event.ice_servers)["username"].endswith(f":{tab.user}")
        assert SECRET not in json.dumps(event.ice_servers)
    client = Client()
    client.force_login(ana)
    answer = client.post(reverse("calls:ice_servers", args=[conversation.public_id]))
    assert answer.status_code == 200
    assert SECRET not in answer.content.decode()


def test_credentials_are_only_for_a_participant_of_an_active_conversation(
    turn: Any, sphere: Sphere
) -> None:
    ana, ben, cleo = (make_member(f"{n}@example.com") for n in ("ana", "ben", "cleo"))
    conversation = start(sphere, ana, ben)
    with pytest.raises(NotFound) as refused:
        ice_config_for(conversation=conversation, user_id=cleo.pk, hide_ip=False)
    assert refused.value.code == "not_in_conversation"
    assert refused.value.message == "Relay credentials are only given for a call you are in now."

    conversation_end(conversation=conversation, by_user_id=ana.pk, reason="ended")
    conversation.refresh_from_db()
    with pytest.raises(NotFound) as refused:
        ice_config_for(conversation=conversation, user_id=ana.pk, hide_ip=False)
    assert refused.value.message == "Relay credentials are only given for a call you are in now."
    with pytest.raises(NotFound):
        ice_config_for_call(user_id=ana.pk, public_id=conversation.public_id)


def test_the_call_page_renews_credentials_only_while_the_call_is_on(
    turn: Any, sphere: Sphere
) -> None:
    ana, ben, cleo = (make_member(f"{n}@example.com") for n in ("ana", "ben", "cleo"))
    conversation = start(sphere, ana, ben)
    url = reverse("calls:ice_servers", args=[conversation.public_id])
    client = Client()

    assert client.post(url).status_code == 302  # to the login page

    client.force_login(ana)
    assert client.get(url).status_code == 405
    answer = client.post(url)
    assert answer.status_code == 200
    assert answer["Cache-Control"].startswith("max-age=0")
    body = answer.json()
    assert body["ice_transport_policy"] == "all"
    assert body["ice_servers"][0] == STUN
    assert turn_entry(body["ice_servers"])["username"].endswith(f":{ana.pk}")

    client.force_login(cleo)
    refused = client.post(url)
    assert refused.status_code == 404
    assert refused.json() == {
        "error": "not_in_conversation",
        "message": "Relay credentials are only given for a call you are in now.",
    }

    client.force_login(ana)
    conversation_end(conversation=conversation, by_user_id=ben.pk, reason="ended")
    assert client.post(url).status_code == 404


def test_without_turn_the_browser_gets_stun_only(no_turn: Any, sphere: Sphere) -> None:
    ana, ben = make_member("ana@example.com"), make_member("ben@example.com")
    conversation = start(sphere, ana, ben)
    ice = ice_config_for(conversation=conversation, user_id=ana.pk, hide_ip=False)
    assert ice.servers == [STUN]
    assert ice.transport_policy == "all"
    assert ice.expires_at == 0
    assert not relay_available()


def test_a_static_turn_server_in_ice_servers_counts_as_a_relay(settings: Any) -> None:
    settings.TURN_URLS, settings.TURN_SECRET = [], ""
    settings.ICE_SERVERS = [
        STUN,
        {"urls": "turns:turn.test:5349", "username": "u", "credential": "c"},
    ]
    assert relay_available()


# Hide my IP address --------------------------------------------------------------


def test_hiding_the_address_makes_only_that_side_relay_only(
    turn: Any, sphere: Sphere, sent_events: Captured
) -> None:
    ana, ben = make_member("ana@example.com"), make_member("ben@example.com")
    hide_ip(ben)
    start(sphere, ana, ben)
    (to_ana,) = sent_events.to(ToTab(ana.pk, "tab-a"))
    (to_ben,) = sent_events.to(ToTab(ben.pk, "tab-b"))
    assert isinstance(to_ana, MatchFound) and isinstance(to_ben, MatchFound)
    assert to_ben.ice_transport_policy == "relay"
    # Ana's own choice decides hers; Ben's relay-only candidates keep his address from her.
    assert to_ana.ice_transport_policy == "all"
    assert to_ben.ice_expires_at > time.time()


def test_without_a_relay_a_hidden_address_is_refused_before_any_call(
    no_turn: Any, sphere: Sphere
) -> None:
    ana = make_member("ana@example.com", spheres=(sphere,))
    ben = make_member("ben@example.com", spheres=(sphere,))
    hide_ip(ben)
    # Someone who does not hide their address waits as before.
    assert queue_request_for(user_id=ana.pk, sphere_id=sphere.pk).sphere_id == sphere.pk
    # Waiting is refused, with words that say why and what to do.
    with pytest.raises(ApplicationError) as refused:
        queue_request_for(user_id=ben.pk, sphere_id=sphere.pk)
    assert (refused.value.code, refused.value.message) == ("no_relay", NO_RELAY_WORDS)
    # A call that reaches the start anyway (matched or direct) is refused for
    # Ben, and nothing is saved: never peer to peer in silence.
    for kind in (Conversation.Kind.MATCHED, Conversation.Kind.DIRECT):
        with pytest.raises(PairingRefused) as refusal:
            start(sphere, ana, ben, kind=kind)
        assert (refusal.value.user_id, refusal.value.code) == (ben.pk, "no_relay")
        assert refusal.value.message == NO_RELAY_WORDS
    assert not Conversation.objects.exists()


# The profile switch ---------------------------------------------------------------


def test_the_profile_switch_turns_hiding_on_and_off(turn: Any) -> None:
    ana = make_member("ana@example.com")
    client = Client()
    client.force_login(ana)
    page = client.get(reverse("accounts:profile")).content.decode()
    assert "Hide my IP address" in page
    assert "Calls may take a little longer to connect." in page

    saved = client.post(
        reverse("accounts:profile"), {"form": "calls", "soft_start": "on", "hide_ip": "on"}
    )
    assert saved.status_code == 302
    profile = Profile.objects.get(user=ana)
    assert (profile.hide_ip, profile.soft_start) == (True, True)

    client.post(reverse("accounts:profile"), {"form": "calls", "soft_start": "on"})
    assert not Profile.objects.get(user=ana).hide_ip


def test_without_a_relay_the_switch_says_so_and_cannot_be_turned_on(no_turn: Any) -> None:
    ana = make_member("ana@example.com")
    client = Client()
    client.force_login(ana)
    page = client.get(reverse("accounts:profile")).content.decode()
    assert "This site has no relay configured, so it can&#x27;t hide your IP address." in page
    switch = next(line for line in page.splitlines() if 'name="hide_ip"' in line)
    assert "disabled" in switch

    client.post(reverse("accounts:profile"), {"form": "calls", "hide_ip": "on"})
    assert not Profile.objects.get(user=ana).hide_ip
    with pytest.raises(ApplicationError) as refused:
        profile_call_choices_update(
            profile=Profile.objects.get(user=ana), soft_start=True, hide_ip=True
        )
    assert refused.value.message == NO_RELAY_WORDS


def test_without_a_relay_someone_who_hid_their_address_can_still_turn_it_off(
    no_turn: Any,
) -> None:
    ana = make_member("ana@example.com")
    hide_ip(ana)
    client = Client()
    client.force_login(ana)
    page = client.get(reverse("accounts:profile")).content.decode()
    switch = next(line for line in page.splitlines() if 'name="hide_ip"' in line)
    assert "disabled" not in switch and "checked" in switch

    client.post(reverse("accounts:profile"), {"form": "calls"})
    assert not Profile.objects.get(user=ana).hide_ip


def test_without_a_relay_a_hidden_address_neither_rings_nor_answers(
    no_turn: Any, sphere: Sphere
) -> None:
    ana, ben = make_member("ana@example.com"), make_member("ben@example.com")
    talk(sphere, ana, ben, a_rating="good", b_rating="good")
    for wisher, about in ((ana, ben), (ben, ana)):
        talk_again_wish(wisher_id=wisher.pk, about_id=about.pk)
    set_online(ben)
    hide_ip(ana)
    with pytest.raises(ApplicationError) as refused:
        ring_start(caller_id=ana.pk, caller_tab="ana-tab", callee_handle=handle_of(ben))
    assert (refused.value.code, refused.value.message) == ("no_relay", NO_RELAY_WORDS)
    assert not Ring.objects.exists()

    # Ben hides his address: Ana's ring reaches him, but answering it is refused, to him.
    Profile.objects.filter(user=ana).update(hide_ip=False)
    hide_ip(ben)
    ring = ring_start(caller_id=ana.pk, caller_tab="ana-tab", callee_handle=handle_of(ben))
    with pytest.raises(PairingRefused) as refusal:
        ring_accept(callee_id=ben.pk, callee_tab="ben-tab", public_id=ring.public_id)
    assert (refusal.value.user_id, refusal.value.message) == (ben.pk, NO_RELAY_WORDS)
    assert not Conversation.objects.active().exists()


@pytest.mark.parametrize(
    ("relay", "hidden", "words"),
    [
        (True, True, "Your IP address is hidden: your calls go through the site's relay"),
        (False, True, "This site has no relay configured, so it can't hide your IP address."),
        (True, False, None),
    ],
)
def test_the_call_page_says_before_joining_whether_the_address_is_hidden(
    settings: Any, sphere: Sphere, relay: bool, hidden: bool, words: str | None
) -> None:
    settings.ICE_SERVERS = []
    settings.TURN_URLS = [TURN_URL] if relay else []
    settings.TURN_SECRET = SECRET if relay else ""
    ana = make_member("ana@example.com", spheres=(sphere,))
    if hidden:
        hide_ip(ana)
    client = Client()
    client.force_login(ana)
    page = client.get(reverse("calls:call", args=[sphere.slug])).content.decode()
    for said in (
        "Your IP address is hidden",
        "This site has no relay configured",
    ):
        assert (said in page) == (words is not None and words.startswith(said))
    if words:
        assert words in page
