"""The thread page and the list of threads take a fixed number of queries, however long."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from chatspheres.spheres.models import Sphere
from tests.conftest import make_member
from tests.connections.helpers import talk
from tests.messaging.helpers import handle_of, pair, send

pytestmark = pytest.mark.django_db


def queries_for(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_a_thread_page_costs_the_same_with_5_or_80_messages_and_cards(
    sphere: Sphere, settings: Any
) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "message": "100000/m", "message_link": "1000/m"}
    settings.SITE_URL = "https://chatspheres.example"
    ana, ben = pair(sphere)
    client = Client()
    client.force_login(ben)
    url = f"/messages/{handle_of(ana)}/"
    for number in range(5):
        send(
            ana,
            ben,
            f"short {number} https://chatspheres.example/spheres/{sphere.slug}/ "
            f"https://chatspheres.example/people/{handle_of(ana)}/",
        )
    client.get(url)  # read once: the next views mark nothing
    few = queries_for(client, url)
    # The session, the member (with their profile and any restriction), the person
    # (with whether the two may write, talked and are connected), the member's side
    # with read receipts, the page of messages and the header's two counts: six;
    # cards of our own pages add the spheres and, for people, who may see whom.
    assert few <= 6 + 5
    for number in range(75):
        send(
            ana,
            ben,
            f"more {number} https://chatspheres.example/people/{handle_of(ana)}/ "
            f"https://chatspheres.example/spheres/{sphere.slug}/",
        )
    client.get(url)
    assert queries_for(client, url) == few


def test_the_list_of_threads_costs_the_same_with_1_or_6_threads(sphere: Sphere) -> None:
    ana, ben = pair(sphere)
    send(ana, ben, "hello")
    client = Client()
    client.force_login(ben)
    one = queries_for(client, "/messages/")
    for number in range(5):
        other = make_member(f"p{number}@example.com", name=f"P{number}")
        talk(sphere, other, ben)
        send(other, ben, "hi")
    assert queries_for(client, "/messages/") == one
