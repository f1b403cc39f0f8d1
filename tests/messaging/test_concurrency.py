"""Sends at the same time: one key is stored once, and the cursor never skips or repeats."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import close_old_connections

from chatspheres.messaging.models import Message, ThreadMember
from chatspheres.messaging.selectors import thread_messages
from chatspheres.spheres.models import Sphere
from tests.messaging.helpers import pair, send

pytestmark = pytest.mark.django_db(transaction=True)


def at_once(work: list[Callable[[], Any]]) -> list[Any]:
    """Run each piece of work in its own thread, all released together; their results or errors."""
    start = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)

    def run(index: int) -> None:
        start.wait()
        try:
            results[index] = work[index]()
        except Exception as error:
            results[index] = error
        finally:
            close_old_connections()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.fixture
def no_rate_limit(settings: Any) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "message": "100000/m"}


@pytest.mark.usefixtures("no_rate_limit")
def test_retries_of_one_key_at_the_same_time_store_one_message(sphere: Sphere) -> None:
    ana, ben = pair(sphere)
    results = at_once([lambda: send(ana, ben, "Once only", "same-key-0001") for _ in range(6)])
    assert not [result for result in results if isinstance(result, Exception)]
    assert Message.objects.count() == 1
    assert {result.message.pk for result in results} == {Message.objects.get().pk}
    assert sum(result.created for result in results) == 1


@pytest.mark.usefixtures("no_rate_limit")
def test_paging_back_while_both_write_never_skips_or_repeats(sphere: Sphere) -> None:
    ana, ben = pair(sphere)
    for number in range(60):
        send(ana, ben, f"before {number}")
    side = ThreadMember.objects.get(user=ben)
    newest_first, cursor = thread_messages(side=side, limit=10)
    pages = [newest_first]

    def page_back() -> None:
        nonlocal cursor
        while cursor is not None:
            page, cursor = thread_messages(side=side, before=cursor, limit=10)
            pages.append(page)

    def writer(sender: Any, to: Any, tag: str) -> Callable[[], None]:
        return lambda: [send(sender, to, f"{tag} {n}") for n in range(15)]

    results = at_once([page_back, writer(ana, ben, "ana"), writer(ben, ana, "ben")])
    assert not [result for result in results if isinstance(result, Exception)]
    read = [message.pk for page in pages for message in page]
    assert len(read) == len(set(read)), "a message was shown twice"
    before_paging = list(
        Message.objects.filter(pk__lte=newest_first[-1].pk).values_list("pk", flat=True)
    )
    assert sorted(read) == before_paging, "a message was skipped"
    assert Message.objects.count() == 90
