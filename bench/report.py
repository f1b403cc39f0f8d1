"""``python -m bench.report``: docs/performance.md from every bench/results/*.json that exists.

The report gives the date, the machine, the exact commands, and for each
benchmark a table with every figure and its ratio to its anchor (relay:
ours / PeerJS, and two processes through Redis / one process; reconnect:
p50 against 1 s; matching: engine / naive scan; connecting: ours / floor;
idle sockets: KiB per socket against the 22 KiB target; pages: p50 against
10 ms and the query counts at two data sizes), the issue's targets with
pass or fail, the PNG plots, and a section "Gaps and causes".

Conventions for a result file (``bench/results/<name>.json``, written by
``bench.common.write_result``, which adds ``benchmark``, ``date``,
``command`` and ``machine``):

* ``"notes": [str]`` (optional): gaps, their causes and what was done or
  should be done about them; each becomes a bullet under "Gaps and causes".
* ``"targets": [{"name": str, "target": str, "value": str | number,
  "passed": bool}]`` (optional): the targets this benchmark judged. Other
  shapes are read as well as they can be (``target``/``ratio``/``max_ratio``,
  ``pass`` instead of ``passed``, or a dict with a ``pass``/``passed`` key).
* ``"not_measured": str`` (optional): the benchmark ran but could not
  measure here; the report says so, with this reason.
* ``"quick": true`` marks a development run (``--quick``); the report says so.
* The plot is ``bench/results/<name>.png``; it is embedded when it exists.

A benchmark without a result file is listed as "not measured in this run",
with the reason that ``python -m bench`` recorded in
``bench/results/_run.json`` (skipped, failed, stopped) when there is one.
Results older than the last ``python -m bench`` run are marked as such.
The tables for relay, connect and sockets follow those benchmarks' current
layout; if a layout is not recognised, every scalar figure is listed instead,
so nothing measured is ever hidden.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import RESULTS, ROOT

OUTPUT = ROOT / "docs" / "performance.md"
RUN_RECORD = RESULTS / "_run.json"
ORDER = (
    "relay",
    "reconnect",
    "matching",
    "connect",
    "sockets",
    "pages",
    "people",
    "ring",
    "meter",
    "worker",
    "messages",
)
TITLES = {
    "relay": "Relay: signaling messages, ours against PeerJS",
    "reconnect": "Reconnect: from a dropped socket to a resumed call",
    "matching": "Matching: cost per arrival, engine against a naive scan",
    "connect": "Connecting: time to first remote frame, ours against the floor",
    "sockets": "Idle sockets: memory and connect-to-ready time",
    "pages": "Pages: server time and SQL queries",
    "people": "People and a person's page: server time and SQL queries",
    "ring": "A ring: from the Call now press to the ringing card painted",
    "prompt": "A prompt: from Draw a prompt to the card painted on the partner's screen",
    "meter": "The talk balance meter: its CPU in the page",
    "worker": "The task worker: emails per second, and the pages while it sends",
    "messages": "Messages: from Send message to painted on the other's tab; a long thread's page",
}
# The issue's targets, in its words, per benchmark (shown when a benchmark did not run).
ISSUE_TARGETS = {
    "relay": [
        "one process: CPU per message at most 1.15\N{MULTIPLICATION SIGN} PeerJS's at 500"
        " sockets (aim 1.0\N{MULTIPLICATION SIGN}), p99 round trip at most"
        " 1.5\N{MULTIPLICATION SIGN} PeerJS's",
        "two processes through Redis: CPU per message (both servers and Redis) at most"
        " 2.5\N{MULTIPLICATION SIGN} one process's, round trip p99 at most 5 ms at 500 sockets",
    ],
    "reconnect": [
        "from a dropped socket to a resumed call with every missed event: p50 at most 1 s"
        " (no backoff), no event lost",
    ],
    "matching": ["at most 20 µs per arrival at 100,000 waiting", "flat from 1,000 to 100,000"],
    "connect": ["at most 1.2\N{MULTIPLICATION SIGN} the bare page's time to first frame"],
    "sockets": [
        "server memory per idle socket no worse than 22 KiB (and at most 50 KiB)",
    ],
    "pages": ["p50 under 10 ms", "a fixed number of queries, whatever the data size (no N+1)"],
    "people": [
        "People and a person's page: p50 at most 10 ms with 1,000 connections and 10,000 past"
        " conversations, with a fixed number of queries whatever the size",
    ],
    "ring": [
        "from the Call now press to the ringing card painted on the other tab: p50 at most 150 ms"
    ],
    "messages": [
        "a message from send to painted on the other's open tab: p50 at most 20 ms on one"
        " process, at most 40 ms through Redis with two",
        "a thread page with 10,000 messages: p50 at most 10 ms with a fixed number of queries",
    ],
    "prompt": [
        "from Draw a prompt to the card painted on the partner's screen: p50 at most 100 ms"
    ],
    "worker": [
        "the worker sustains at least 200 email tasks per second into the SMTP sink, and the"
        " site's page times do not move by more than 10% while it does",
    ],
    "meter": [
        "the meter's CPU in the page: at most 2% of one core, measured with the page's own"
        " performance timeline over 60 s of fake audio"
    ],
}
SOCKET_TARGET_KIB = 22.0
RECONNECT_TARGET_MS = 1000.0
PAGE_TARGET_MS = 10.0


# --------------------------------------------------------------------------- formatting


def number(value: Any, unit: str = "") -> str:
    """A figure as a reader wants it: a few significant digits, thousands separated."""
    if value is None:
        return "\N{EN DASH}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        text = f"{value:,}"
    elif isinstance(value, float):
        if math.isnan(value):
            return "\N{EN DASH}"
        size = abs(value)
        if size >= 100:
            text = f"{value:,.0f}"
        elif size >= 10:
            text = f"{value:.1f}"
        elif size >= 1:
            text = f"{value:.2f}"
        elif size == 0:
            text = "0"
        else:
            text = f"{value:.3g}"
    else:
        text = str(value)
    return f"{text} {unit}".strip() if unit else text


def ratio(numerator: Any, denominator: Any) -> str:
    try:
        if not denominator:
            return "\N{EN DASH}"
        value = float(numerator) / float(denominator)
        text = f"{value:.2f}" if value >= 0.1 else f"{value:.2g}"
        return f"{text}\N{MULTIPLICATION SIGN}"
    except (TypeError, ValueError):
        return "\N{EN DASH}"


def label(key: str) -> str:
    """``server_cpu_us_per_relay`` → ``server cpu (µs) per relay``."""
    words = []
    for word in key.split("_"):
        words.append(
            {
                "us": "(µs)",
                "ms": "(ms)",
                "kib": "(KiB)",
                "mib": "(MiB)",
                "cpu": "CPU",
                "rtt": "round trip",
            }.get(word, word)
        )
    return " ".join(words)


def as_run(command: Any) -> str:
    """``python /path/bench/relay/__main__.py --quick`` → ``python -m bench.relay --quick``."""
    parts = str(command).split()
    for index, part in enumerate(parts):
        path = Path(part)
        if path.name == "__main__.py" and path.parent.parent.name == "bench":
            parts[index : index + 1] = ["-m", f"bench.{path.parent.name}"]
            break
    return " ".join(parts)


def cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(header: list[str], rows: Iterable[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return [*lines, ""]


def verdict(passed: Any) -> str:
    if passed is None:
        return "not judged"
    return "**pass**" if passed else "**FAIL**"


def dig(document: Any, *path: Any, default: Any = None) -> Any:
    for key in path:
        try:
            document = document[key]
        except (KeyError, IndexError, TypeError):
            return default
    return document


# --------------------------------------------------------------------------- reading


def load_results() -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted(RESULTS.glob("*.json")):
        if path.name.startswith("_"):
            continue
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            print(f"skipping unreadable {path.relative_to(ROOT)}: {error}", file=sys.stderr)
            continue
        if isinstance(document, dict):
            found[str(document.get("benchmark") or path.stem)] = document
    return found


def load_run_record() -> dict[str, Any]:
    try:
        record = json.loads(RUN_RECORD.read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def parse_date(text: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def normalise_targets(raw: Any) -> list[dict[str, Any]]:
    """A result's targets in the convention's shape (see the module docstring)."""
    targets = []
    for item in raw if isinstance(raw, list) else []:
        passed = item.get("passed")
        value = item.get("value")
        targets.append(
            {
                "name": str(item.get("name", "target")),
                "target": str(item.get("target", "")),
                "value": value if isinstance(value, str) else number(value),
                "passed": None if passed is None else bool(passed),
            }
        )
    return targets


_QUANTITY = re.compile(r"(-?[\d,]*\.?\d+)\s*(\S*)")


def against(target: str, value: str) -> str:
    """The figure over the target's limit (``1.35x`` against ``<= 1.15x``: 1.17x), when both
    are one quantity in the same unit; below 1x the target is met with room to spare."""
    if not target.lstrip().startswith(("<=", "<")):
        return "\N{EN DASH}"
    limit, found = _QUANTITY.search(target), _QUANTITY.search(value)
    if limit is None or found is None or limit.group(2) != found.group(2):
        return "\N{EN DASH}"
    try:
        bound = float(limit.group(1).replace(",", ""))
        measured = float(found.group(1).replace(",", ""))
    except ValueError:
        return "\N{EN DASH}"
    return ratio(measured, bound)


def scalars(document: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, Any]]:
    """Every number (and short string) in a result, with its path, for the fallback table."""
    skip = {"benchmark", "date", "command", "machine", "notes", "targets", "sql", "profiles"}
    found: list[tuple[str, Any]] = []
    if depth > 5:
        return found
    if isinstance(document, dict):
        for key, value in document.items():
            if depth == 0 and key in skip:
                continue
            found += scalars(value, f"{prefix}{key}.", depth + 1)
    elif isinstance(document, list):
        if len(document) <= 12:
            for index, value in enumerate(document):
                found += scalars(value, f"{prefix}{index}.", depth + 1)
    elif isinstance(document, int | float) and not isinstance(document, bool):
        found.append((prefix.rstrip("."), document))
    return found


def fallback_table(document: dict[str, Any]) -> list[str]:
    rows = [[path, number(value)] for path, value in scalars(document)]
    return table(["figure", "value"], rows[:200]) if rows else ["(no figures found)", ""]


# --------------------------------------------------------------------------- sections


RELAY_SIDES = (
    ("chatspheres", "one process"),
    ("chatspheres-redis", "two processes + Redis"),
    ("chatspheres-before", "before the rewrite"),
    ("peerjs", "PeerJS"),
    ("python-floor", "Python floor"),
)


def relay_section(doc: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    sizes = doc["sizes"]
    present = [
        (key, name) for key, name in RELAY_SIDES if any(key in size["servers"] for size in sizes)
    ]
    redis = "chatspheres-redis" in sizes[0]["servers"]
    before = any("chatspheres-before" in size["servers"] for size in sizes)
    rows = []
    for size in sizes:
        servers = size["servers"]
        medians = {key: servers[key]["median"] for key, _ in present if key in servers}
        ours, peer = medians["chatspheres"], medians["peerjs"]
        for figure in ours:
            if not isinstance(ours.get(figure), int | float) or figure not in peer:
                continue
            row = [number(size["sockets"]), label(figure)]
            row += [number(medians.get(key, {}).get(figure)) for key, _ in present]
            row.append(ratio(ours[figure], peer[figure]))
            if redis:
                row.append(ratio(medians["chatspheres-redis"].get(figure), ours[figure]))
            if before:
                row.append(ratio(ours[figure], medians.get("chatspheres-before", {}).get(figure)))
            rows.append(row)
    if not rows:
        raise KeyError("no relay figures")
    header = ["sockets", "figure", *[name for _, name in present], "one process / PeerJS"]
    if redis:
        header.append("Redis / one process")
    if before:
        header.append("one process / before the rewrite")
    lines += [
        "Saturating load (ping-pong: each pair sends its next message as soon as the answer is"
        " back, so every server runs flat out): the CPU per relayed message is the figure to"
        " compare. Medians over the repetitions; below 1\N{MULTIPLICATION SIGN} is better for"
        " CPU and round trips, above 1\N{MULTIPLICATION SIGN} for relays per second. For the"
        " two-process side, CPU is summed over both servers and redis-server.",
        "",
    ]
    lines += table(header, rows)
    paced_rows = []
    rate = None
    for size in sizes:
        for key, name in present:
            paced = size["servers"].get(key, {}).get("paced")
            if not paced:
                continue
            rate = paced.get("rate_per_pair", rate)
            m = paced["median"]
            paced_rows.append(
                [
                    number(size["sockets"]),
                    name,
                    number(m.get("relays_per_second")),
                    number(m.get("rtt_p50_ms"), "ms"),
                    number(m.get("rtt_p95_ms"), "ms"),
                    number(m.get("rtt_p99_ms"), "ms"),
                    number(m.get("rtt_max_ms"), "ms"),
                    number(m.get("server_cpu_us_per_relay"), "µs"),
                    number(m.get("server_cores_busy")),
                    number(m.get("late_slots")),
                ]
            )
    if paced_rows:
        lines += [
            f"Paced load: every pair sends {number(rate)} round trips a second, each pair in its"
            " own slot of the period (so the messages arrive evenly), far below what the servers"
            " can take: the round trip is what a person's signal waits for. At this rate the CPU"
            " per message includes each process's fixed costs (keep-alives, sweeps), spread over"
            ' fewer messages. "Late" counts slots a pair skipped because its previous round trip'
            " was not back yet.",
            "",
        ]
        lines += table(
            [
                "sockets",
                "server",
                "relays/s",
                "round trip p50",
                "p95",
                "p99",
                "max",
                "CPU per relay",
                "cores busy",
                "late",
            ],
            paced_rows,
        )
    breakdown = []
    for size in sizes:
        entry = size["servers"].get("chatspheres-redis")
        labels = (size.get("processes") or {}).get("chatspheres-redis")
        if not entry or not labels:
            continue
        for load, figures in (
            ("saturating", entry["median"]),
            ("paced", (entry.get("paced") or {}).get("median") or {}),
        ):
            per = figures.get("cpu_us_per_relay_by_process")
            if per:
                breakdown.append(
                    [number(size["sockets"]), load]
                    + [number(value, "µs") for value in per]
                    + [number(figures.get("redis_publish_per_relay"))]
                )
    if breakdown:
        labels = doc["sizes"][0]["processes"]["chatspheres-redis"]
        lines += [
            "Two processes + Redis, CPU per relayed message by process (medians), and Redis"
            " PUBLISH commands per relayed message (1 when every message crosses Redis):",
            "",
        ]
        lines += table(["sockets", "load", *labels, "PUBLISH per relay"], breakdown)
    for name, description in (doc.get("servers") or {}).items():
        lines.append(f"- {name}: {description}")
    if doc.get("servers"):
        lines.append("")
    return lines


def reconnect_section(doc: dict[str, Any]) -> list[str]:
    lines = []
    if doc.get("definition"):
        lines += [f"Measured: {doc['definition']}.", ""]
    plan = doc.get("plan") or {}
    lines += [
        f"{plan.get('pairs', '?')} pairs in calls per hub; {plan.get('trials', '?')} trials one"
        " at a time per hub and drop (interleaved), then"
        f" {plan.get('bursts', '?')} bursts per hub and drop in which every pair's tab drops at"
        ' once. Drops: "reset", the client aborts its TCP connection (the server sees it at'
        ' once); "silent", the client opens a new socket while the server still holds the old'
        ' one. "Lost" counts lines that never arrived; "dropped by the page" counts lines that'
        " arrived after a newer event id, which the page (static/js/realtime.js) discards as"
        " already seen.",
        "",
    ]
    rows = []
    for kind, label_ in (("one_at_a_time", "one at a time"), ("bursts", "burst")):
        for key, s in (doc.get(kind) or {}).items():
            resumed = s["resumed_ms"]
            rows.append(
                [
                    label_,
                    key,
                    number(s["trials"]),
                    number(resumed["p50"], "ms"),
                    number(resumed["p95"], "ms"),
                    number(resumed["max"], "ms"),
                    ratio(resumed["p50"], RECONNECT_TARGET_MS),
                    number(s["ready_ms"]["p50"], "ms"),
                    number(s["lines_missed_p50"]),
                    number(s["lines_sent"]),
                    number(s["lost"]),
                    number(s.get("lost_to_page")),
                    number(s["duplicates"]),
                    number(s["out_of_order"]),
                    number(s["partner_back_ms"]["p50"], "ms"),
                ]
            )
    lines += table(
        [
            "trials",
            "hub / drop",
            "n",
            "resumed p50",
            "p95",
            "max",
            "p50 / 1 s",
            "ready p50",
            "lines missed (p50)",
            "lines sent",
            "lost",
            "dropped by the page",
            "twice",
            "trials out of order",
            "partner told back p50",
        ],
        rows,
    )
    for name, description in (doc.get("servers") or {}).items():
        lines.append(f"- {name}: {description}")
    if doc.get("servers"):
        lines.append("")
    return lines


def connect_section(doc: dict[str, Any]) -> list[str]:
    ours = doc["ours"]
    floors = {
        key: value
        for key, value in doc.items()
        if key.startswith("floor") and isinstance(value, dict) and "median_ms" in value
    }
    used = dig(doc, "floor", "used_for_ratio")
    anchor = floors.get(f"floor_{used}") or next(iter(floors.values()))
    rows = []
    for label, figure in (
        ("median", "median_ms"),
        ("p90", "p90_ms"),
        ("min", "min_ms"),
        ("max", "max_ms"),
    ):
        if figure not in ours:
            continue
        row = [label, number(ours[figure], "ms")]
        for floor in floors.values():
            row.append(number(floor.get(figure), "ms"))
        row.append(ratio(ours[figure], anchor.get(figure)))
        rows.append(row)
    header = [
        "time to first remote frame",
        "ours",
        *[f"floor ({k.removeprefix('floor_')})" for k in floors],
        f"ours / floor ({used or 'first'})",
    ]
    lines = []
    if doc.get("definition"):
        lines += [str(doc["definition"]), ""]
    lines += [f"{doc.get('runs', '?')} runs, {doc.get('order', 'interleaved')}.", ""]
    lines += table(header, rows)
    steps = doc.get("breakdown_median_steps_ms")
    if isinstance(steps, dict) and isinstance(steps.get("ours"), dict):
        lines += ["Where the time goes (median ms per step):", ""]
        for name, values in steps.items():
            if isinstance(values, dict):
                lines.append(
                    f"- {name}: " + "; ".join(f"{step} {number(ms)}" for step, ms in values.items())
                )
        lines.append("")
    return lines


def sockets_section(doc: dict[str, Any]) -> list[str]:
    rows = []
    for row in doc["medians"]:
        kib = row["kib_per_socket"]
        rows.append(
            [
                number(row["sockets"]),
                number(row.get("rss_mib"), "MiB"),
                number(kib, "KiB"),
                ratio(kib, SOCKET_TARGET_KIB),
                number(row.get("connect_to_ready_p50_ms"), "ms"),
                number(row.get("connect_to_ready_p99_ms"), "ms"),
                number(row.get("probe_connect_to_ready_p50_ms"), "ms"),
            ]
        )
    lines = []
    if doc.get("method"):
        lines += [str(doc["method"]), ""]
    lines += table(
        [
            "idle sockets",
            "server RSS",
            "per socket",
            f"per socket / {SOCKET_TARGET_KIB:g} KiB target",
            "connect→ready p50 (while opening)",
            "p99",
            "one more socket, p50",
        ],
        rows,
    )
    heap = doc.get("python_heap_per_socket") or {}
    if heap.get("by_library_kib_per_socket"):
        lines += [
            f"What an idle socket is made of (tracemalloc, {number(heap.get('sockets'))} sockets,"
            f" Python heap {number(heap.get('python_heap_kib_per_socket'), 'KiB')} per socket): "
            + "; ".join(
                f"{name} {number(kib, 'KiB')}"
                for name, kib in heap["by_library_kib_per_socket"].items()
            )
            + ".",
            "",
        ]
    ours = heap.get("chatspheres_allocation_sites") or []
    if ours:
        lines += [
            "Our own share, by allocating line: "
            + "; ".join(f"`{site['where']}` {site['bytes_per_socket']} B" for site in ours)
            + ".",
            "",
        ]
    return lines


def matching_section(doc: dict[str, Any]) -> list[str]:
    rows = doc["rows"]
    vocabularies = ", ".join(
        f"{name} ({figures['interests']:,} interests, Zipf)"
        for name, figures in (doc.get("vocabularies") or {}).items()
    )
    lines = [
        f"The same {number(doc.get('arrivals_per_repetition'))} arrivals per repetition for all"
        f" matchers (fewer for the naive scan at large queues, see the notes),"
        f" {doc.get('repetitions', 3)} repetitions interleaved, median of the repetitions' means."
        f" Interests: {vocabularies},"
        f" {doc.get('interests_per_person', '3 to 5')} per person. The queue is held at N: each"
        " arrival pairs with a waiting person, who joins again at the back.",
        "",
    ]
    cost_rows = []
    for row in rows:
        engine, naive = row["engine"], row["naive"]
        cost_rows.append(
            [
                row["vocabulary"],
                number(row["size"]),
                number(engine["us_per_arrival"], "µs"),
                number(engine.get("wall_us_per_arrival"), "µs"),
                number(engine.get("wall_p50_us"), "µs"),
                number(engine.get("wall_p99_us"), "µs"),
                number(naive["us_per_arrival"], "µs"),
                number(naive.get("arrivals_per_repetition")),
                ratio(engine["us_per_arrival"], naive["us_per_arrival"]),
            ]
        )
    lines += [
        "Cost per arrival is CPU time per `join` (mean; median of the repetitions); the"
        " wall-clock columns include the moments the process was descheduled on this shared"
        " machine.",
        "",
    ]
    lines += table(
        [
            "interests",
            "waiting",
            "engine CPU / arrival",
            "engine wall mean",
            "engine wall p50",
            "engine wall p99",
            "naive scan CPU / arrival",
            "naive arrivals / rep.",
            "engine / naive",
        ],
        cost_rows,
    )
    flat = doc.get("flatness") or {}
    if flat:
        lines += [
            "Cost per arrival at the largest queue over the smallest (1.00\N{MULTIPLICATION SIGN}"
            " = flat): "
            + "; ".join(
                f"{vocabulary} interests: "
                + ", ".join(
                    f"{key.split('_')[0]} {value:.2f}\N{MULTIPLICATION SIGN}"
                    for key, value in ratios.items()
                )
                for vocabulary, ratios in flat.items()
            )
            + ".",
            "",
        ]
    lines += [
        "Match quality. The clock moves one simulated second per arrival; 50 active people"
        " arrive in turn and their partners join again at once, so a repeat partner is"
        ' always at hand. "Oldest wait" is how long the longest-waiting person has waited'
        " at the end, to be read against the run's length (shorter for the naive scan at"
        " large N).",
        "",
    ]
    quality_rows = []
    for row in rows:
        for kind in ("engine", "naive", "engine_scan_limit_8"):
            figures = row.get(kind)
            if not figures:
                continue
            quality_rows.append(
                [
                    row["vocabulary"],
                    number(row["size"]),
                    kind.replace("_", " ").replace(
                        "engine scan limit 8", "engine, scan_limit 8 (diagnostic)"
                    ),
                    number(figures.get("us_per_arrival"), "µs"),
                    number(figures.get("mean_shared_interests")),
                    number(figures.get("oldest_wait_s"), "s"),
                    number(figures.get("simulated_s"), "s"),
                    number(figures.get("median_served_wait_s"), "s"),
                    f"{100 * (figures.get('repeat_partner_rate_in_window') or 0):.2f} %",
                    f"{100 * (figures.get('repeat_partner_rate_any_time') or 0):.1f} %",
                ]
            )
    lines += table(
        [
            "interests",
            "waiting",
            "matcher",
            "cost / arrival",
            "mean shared interests",
            "oldest wait",
            "run length",
            "median wait of those served",
            "repeat partner within 10 min",
            "repeat partner, any time",
        ],
        quality_rows,
    )
    return lines


def pages_section(doc: dict[str, Any]) -> list[str]:
    sizes = doc["sizes"]
    small, large = sizes["small"], sizes["large"]
    sd, ld = small["data"], large["data"]
    lines = [
        f"Django's test client in-process, {doc.get('rounds', '?')} requests per page and mode"
        f" after {doc.get('warm_up', '?')} warm-up requests, pages visited in turn. Large:"
        f" {ld['members']:,} members, {ld['spheres']} spheres, {ld['memberships']:,}"
        f" memberships; small: {sd['members']:,} members, {sd['spheres']} spheres,"
        f" {sd['memberships']:,} memberships. CPU is this thread's CPU time (immune to other"
        ' load on the machine); "new connection" closes the database connection before each'
        " request, as a real server with SQLite here does (CONN_MAX_AGE 0).",
        "",
    ]
    rows = []
    for page, modes in large["pages"].items():
        for mode, figures in modes.items():
            if not isinstance(figures, dict):
                continue
            small_figures = small["pages"][page][mode]
            rows.append(
                [
                    f"{page} `{modes.get('url', '')}`",
                    mode,
                    number(figures["p50_ms"], "ms"),
                    ratio(figures["p50_ms"], PAGE_TARGET_MS),
                    number(figures["p99_ms"], "ms"),
                    number(figures.get("cpu_p50_ms"), "ms"),
                    number(figures.get("new_connection_p50_ms"), "ms"),
                    f"{small_figures['queries']} / {figures['queries']}",
                    f"{number(small_figures.get('sql_ms'))} / {number(figures.get('sql_ms'))} ms",
                    number(small_figures["p50_ms"], "ms"),
                ]
            )
    lines += table(
        [
            "page",
            "viewer",
            "p50",
            "p50 / 10 ms",
            "p99",
            "CPU p50",
            "p50, new connection",
            "queries small / large",
            "SQL time small / large",
            "p50 small",
        ],
        rows,
    )
    parts = large.get("parts") or {}
    if parts:
        lines += [
            "Pieces timed alone at the large size: "
            + "; ".join(f"{label(key)} {number(value)}" for key, value in parts.items())
            + ".",
            "",
        ]
    return lines


def meter_section(doc: dict[str, Any]) -> list[str]:
    lines = [
        f"Two pages in a call for {number(doc.get('window_s'), 's')} of fake audio that speaks"
        " half the time; each page times every tick of the meter's analyser callback with"
        " performance.now() and observes long tasks (PerformanceObserver). The figure is the"
        " worse page's mean tick (slowest 5% left out) times its ticks, over the window, in"
        " percent of one core;"
        " the plain sum of the ticks' wall times (which on a busy machine includes moments the"
        " renderer was not running) is beside it.",
        "",
    ]
    rows = [
        [
            index + 1,
            number(page["window_s"], "s"),
            f"{page['percent_of_one_core']:.3f}%",
            ratio(page["percent_of_one_core"], doc.get("target_percent", 2.0)),
            page["ticks"],
            number(page["trimmed_mean_tick_ms"], "ms"),
            number(page["p90_tick_ms"], "ms"),
            number(page["longest_tick_ms"], "ms"),
            f"{number(page['meter_ms'], 'ms')} ({page['wall_percent_of_one_core']:.3f}%)",
            f"{page['long_tasks']} ({number(page['long_tasks_ms'], 'ms')})",
        ]
        for index, page in enumerate(doc["pages"])
    ]
    lines += table(
        [
            "page",
            "window",
            "of one core",
            "/ 2% target",
            "ticks",
            "mean tick (95%)",
            "p90 tick",
            "longest tick",
            "wall sum",
            "long tasks (all causes)",
        ],
        rows,
    )
    return lines


SECTIONS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "relay": relay_section,
    "reconnect": reconnect_section,
    "matching": matching_section,
    "connect": connect_section,
    "sockets": sockets_section,
    "pages": pages_section,
    "meter": meter_section,
}


# --------------------------------------------------------------------------- the report


def why_missing(name: str, record: dict[str, Any]) -> str:
    for entry in record.get("benchmarks", []):
        if entry.get("name") == name and entry.get("reason"):
            return str(entry["reason"])
    return "no bench/results/" + name + ".json"


def render(results: dict[str, dict[str, Any]], record: dict[str, Any]) -> str:
    now = datetime.now(UTC)
    run_started = parse_date(record.get("started")) if record else None
    lines = [
        "# Performance",
        "",
        f"Generated by `python -m bench.report` on {now:%Y-%m-%d %H:%M} UTC from"
        " `bench/results/*.json`. Every figure below comes from those files; rerun"
        " `make bench` to refresh them. The targets are the issue's (listed under"
        ' "Targets", each with the figure it is judged on). These machines are shared and'
        " noisy, so the benchmarks compare in one run, interleaved, with medians, and the"
        " ratios matter more than the absolute times.",
        "",
    ]
    # Machine ---------------------------------------------------------------
    machines: dict[str, dict[str, Any]] = {
        json.dumps(doc["machine"], sort_keys=True): doc["machine"]
        for doc in results.values()
        if isinstance(doc.get("machine"), dict)
    }
    lines += ["## Machine", ""]
    if machines:
        for machine in machines.values():
            lines.append(
                f"- {machine.get('cores', '?')} cores, {machine.get('memory_gib', '?')} GiB memory,"
                f" CPU: {machine.get('cpu_model', 'unknown')}; Python {machine.get('python', '?')},"
                f" Linux {machine.get('kernel', '?')}"
            )
        if len(machines) > 1:
            lines.append(
                "- (the results were taken on more than one machine; see each command's date)"
            )
    else:
        lines.append("- unknown (no results)")
    lines.append("")
    # Commands --------------------------------------------------------------
    lines += [
        "## How these figures were made",
        "",
        "`make bench` (after `make test`'s set-up) installs `requirements/bench.txt` and runs"
        " `python -m bench`, which runs each benchmark below in its own process, one after"
        " another, then `python -m bench.report`. Each can be run alone with"
        " `python -m bench.<name>` (`--quick` for a short development run).",
        "",
    ]
    if record:
        lines += [
            f"Last `python -m bench` run: `{record.get('command', 'python -m bench')}`,"
            f" started {record.get('started', '?')}.",
            "",
        ]
    run_rows = []
    entries = {entry.get("name"): entry for entry in record.get("benchmarks", [])}
    for name in [*ORDER, *sorted(set(results) - set(ORDER))]:
        doc = results.get(name)
        entry = entries.get(name, {})
        date = doc.get("date") if doc else None
        stale = ""
        taken = parse_date(date) if date else None
        if doc and run_started and taken and taken < run_started:
            stale = " (from an earlier run)"
        wall = entry.get("wall_s")
        status = entry.get("status")
        began, ended = parse_date(entry.get("started")), parse_date(entry.get("finished"))
        if doc and taken and began and ended and not began <= taken <= ended:
            # The result on disk is not the one that run produced.
            wall, status = None, f"{status} in the last run; this result was run on its own"
        run_rows.append(
            [
                name,
                # A result of another benchmark's variant (worker-postgresql) names its module.
                f"`python -m bench.{name.split('-')[0]}`",
                f"`{as_run(doc['command'])}`" if doc and doc.get("command") else "\N{EN DASH}",
                (str(date) + stale) if date else "not measured in this run",
                f"{number(wall)} s" if wall is not None else "\N{EN DASH}",
                (status or "\N{EN DASH}") + (" (quick)" if doc and doc.get("quick") else ""),
            ]
        )
    lines += table(["benchmark", "command", "as recorded", "date", "wall time", "status"], run_rows)
    # Targets ----------------------------------------------------------------
    lines += ["## Targets", ""]
    target_rows = []
    for name in ORDER:
        doc = results.get(name)
        issue = "; ".join(ISSUE_TARGETS.get(name, []))
        if not doc or doc.get("not_measured"):
            reason = (doc or {}).get("not_measured") or why_missing(name, record)
            target_rows.append([name, issue, "not measured in this run", reason, "\N{EN DASH}"])
            continue
        judged = normalise_targets(doc.get("targets"))
        if not judged:
            target_rows.append([name, issue, "not judged by the benchmark", "", "\N{EN DASH}"])
        for target in judged:
            detail = " ".join(
                part
                for part in (
                    str(target["value"]),
                    f"(target {target['target']})" if target["target"] else "",
                )
                if part
            )
            target_rows.append(
                [
                    name,
                    target["name"],
                    verdict(target["passed"]),
                    detail,
                    against(target["target"], str(target["value"])),
                ]
            )
    lines += [
        '"Figure / limit" is the measured figure over the target\'s limit, where both are one'
        " quantity: at most 1\N{MULTIPLICATION SIGN} meets the target.",
        "",
    ]
    lines += table(["benchmark", "target", "result", "figure", "figure / limit"], target_rows)
    # Sections ---------------------------------------------------------------
    for name in [*ORDER, *sorted(set(results) - set(ORDER))]:
        lines += [f"## {TITLES.get(name, name)}", ""]
        doc = results.get(name)
        if not doc:
            lines += [f"Not measured in this run: {why_missing(name, record)}.", ""]
            continue
        if doc.get("not_measured"):
            lines += [f"Not measured in this run: {doc['not_measured']}.", ""]
        lines.append(
            f"`{as_run(doc.get('command', 'python -m bench.' + name))}`,"
            f" {doc.get('date', 'date unknown')}"
            + (" — a quick (development) run." if doc.get("quick") else ".")
        )
        lines.append("")
        renderer = SECTIONS.get(name)
        try:
            lines += renderer(doc) if renderer else fallback_table(doc)
        except (
            KeyError,
            TypeError,
            ValueError,
            IndexError,
            AttributeError,
            StopIteration,
        ) as error:
            lines += [
                f"(The layout of {name}.json was not recognised ({type(error).__name__}: {error});"
                " every figure it holds is listed instead.)",
                "",
                *fallback_table(doc),
            ]
        plot = RESULTS / f"{name}.png"
        if plot.exists():
            relative = Path("..") / plot.relative_to(ROOT)
            lines += [f"![{TITLES.get(name, name)}]({relative.as_posix()})", ""]
    # Gaps -------------------------------------------------------------------
    lines += ["## Gaps and causes", ""]
    any_gap = False
    for name in ORDER + tuple(sorted(set(results) - set(ORDER))):
        doc = results.get(name)
        if not doc:
            continue
        notes = [str(note) for note in doc.get("notes") or [] if str(note).strip()]
        failed = [t for t in normalise_targets(doc.get("targets")) if t["passed"] is False]
        if not notes and not failed:
            continue
        any_gap = True
        lines += [f"### {name}", ""]
        for target in failed:
            lines.append(
                f"- Missed: {target['name']}: {target['value']}"
                + (f" (target {target['target']})." if target["target"] else ".")
            )
        for note in notes:
            lines.append(f"- {note}")
        lines.append("")
    missing = [name for name in ORDER if name not in results]
    if missing:
        any_gap = True
        lines += ["### Not measured in this run", ""]
        lines += [f"- {name}: {why_missing(name, record)}" for name in missing]
        lines.append("")
    if not any_gap:
        lines += ["Every target was met and no benchmark left a note.", ""]
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    results = load_results()
    record = load_run_record()
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(render(results, record))
    print(
        f"wrote {OUTPUT.relative_to(ROOT)} from {len(results)} result(s):"
        f" {', '.join(sorted(results)) or 'none'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
