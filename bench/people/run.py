"""Server time and SQL queries of People and a person's page, at two sizes, in-process.

A scratch database gets a viewer with 10 connections and 100 past
conversations first, then grows to 1,000 connections and 10,000 past
conversations (see data.py: follows both ways, notes, presence). At each
size, Django's test ``Client``, signed in as the viewer, requests
``/people/``, its last page of history, and the page of a connection with
notes: a warm-up, then one request with ``CaptureQueriesContext`` for the
query count, then rounds that visit every page in turn, timing each
``client.get`` with ``time.perf_counter`` (wall) and ``time.thread_time``
(CPU, immune to the other processes on this machine).
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

from bench.common import median, percentile, scratch, write_result

SMALL = {"people": 10, "conversations": 100}
LARGE = {"people": 1_000, "conversations": 10_000}
TARGET_P50_MS = 10.0
WARM_UP = 20
ROUNDS = 200
QUICK_ROUNDS = 40


def pages() -> dict[str, str]:
    """The URLs measured: People, its last history page, and a connection with notes."""
    from chatspheres.accounts.models import Profile
    from chatspheres.calls.models import Participant
    from chatspheres.connections.models import Note
    from chatspheres.connections.selectors import HISTORY_PER_PAGE

    viewer = Profile.objects.order_by("user_id").first()
    assert viewer is not None
    noted = Note.objects.filter(author_id=viewer.user_id).order_by("pk").first()
    assert noted is not None
    handle = Profile.objects.get(user_id=noted.about_id).handle
    history = Participant.objects.filter(user_id=viewer.user_id).count()
    last_page = max(1, -(-history // HISTORY_PER_PAGE))
    return {
        "people": "/people/",
        "people, last history page": f"/people/?history={last_page}",
        "person": f"/people/{handle}/",
    }


def signed_in() -> Any:
    from django.test import Client

    from chatspheres.accounts.models import User

    viewer = User.objects.order_by("pk").first()
    assert viewer is not None
    # 127.0.0.1 is in the default ALLOWED_HOSTS; "testserver" is not.
    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(viewer)
    return client


def get(client: Any, url: str) -> Any:
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")
    return response


def count_queries(client: Any, url: str) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        get(client, url)
    return [query["sql"] for query in captured.captured_queries]


def measure_size(rounds: int) -> dict[str, Any]:
    client = signed_in()
    urls = pages()
    for _ in range(WARM_UP):
        for url in urls.values():
            get(client, url)
    queries = {name: count_queries(client, url) for name, url in urls.items()}
    wall: dict[str, list[float]] = {name: [] for name in urls}
    cpu: dict[str, list[float]] = {name: [] for name in urls}
    names = list(urls)
    perf, thread_time = time.perf_counter, time.thread_time
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            started, started_cpu = perf(), thread_time()
            get(client, urls[name])
            cpu[name].append((thread_time() - started_cpu) * 1000)
            wall[name].append((perf() - started) * 1000)
    return {
        name: {
            "url": url,
            "requests": len(wall[name]),
            "p50_ms": round(median(wall[name]), 3),
            "p99_ms": round(percentile(wall[name], 0.99), 3),
            "cpu_p50_ms": round(median(cpu[name]), 3),
            "queries": len(queries[name]),
            "sql": queries[name],
        }
        for name, url in urls.items()
    }


def judge(small: dict[str, Any], large: dict[str, Any]) -> list[dict[str, Any]]:
    targets = []
    for name, figures in large["pages"].items():
        targets.append(
            {
                "name": f"{name} p50 with {large['data']['connections']:,} connections and"
                f" {large['data']['conversations']:,} conversations",
                "target": f"≤ {TARGET_P50_MS:g} ms",
                "value": f"{figures['p50_ms']:.2f} ms",
                "passed": figures["p50_ms"] <= TARGET_P50_MS,
            }
        )
        before = small["pages"][name]["queries"]
        targets.append(
            {
                "name": f"{name} queries, {small['data']['connections']} vs"
                f" {large['data']['connections']:,} connections",
                "target": "the same",
                "value": f"{before} vs {figures['queries']}",
                "passed": before == figures["queries"],
            }
        )
    return targets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.people", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer requests per page")
    args = parser.parse_args(argv)
    rounds = QUICK_ROUNDS if args.quick else ROUNDS
    started = time.perf_counter()
    rng = random.Random(7)
    sizes: dict[str, dict[str, Any]] = {}
    with scratch():
        from bench.people.data import grow_to

        for label, size in (("small", SMALL), ("large", LARGE)):
            loaded = grow_to(people=size["people"], conversations=size["conversations"], rng=rng)
            measured = measure_size(rounds)
            sizes[label] = {"data": vars(loaded), "pages": measured}
            print(
                f"{loaded.connections:,} connections, {loaded.conversations:,} conversations,"
                f" following {loaded.following}, followers {loaded.followers}:"
            )
            for name, row in measured.items():
                print(
                    f"  {name:<26} p50 {row['p50_ms']:6.2f} ms  p99 {row['p99_ms']:6.2f} ms"
                    f"  CPU p50 {row['cpu_p50_ms']:6.2f} ms  {row['queries']:2d} queries"
                )
    targets = judge(sizes["small"], sizes["large"])
    for target in targets:
        verdict = "pass" if target["passed"] else "FAIL"
        print(f"[{verdict}] {target['name']}: {target['value']} (target {target['target']})")
    write_result(
        "people",
        {
            "quick": args.quick,
            "rounds": rounds,
            "warm_up": WARM_UP,
            "sizes": sizes,
            "targets": targets,
            "wall_s": round(time.perf_counter() - started, 1),
        },
    )
    return 0
