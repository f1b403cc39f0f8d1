"""Profile our server under the relay load: ``python -m bench.relay.profile [--sockets 500]``.

Starts ChatSpheres alone, connects and pairs the sockets as the benchmark
does, keeps them ping-ponging, and samples the server with py-spy (install it
in the venv by hand: ``.venv/bin/pip install py-spy``; it is not a project
requirement). Prints the functions with the most samples, by own time and
including callees, and leaves the collapsed stacks in the temporary folder.

``--redis`` profiles the two-process mode instead (two servers sharing a
redis-server of their own, each pair's tabs on different processes), both
servers sampled at once; ``--paced N`` drives N round trips a second per pair
rather than ping-pong.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

from bench.common import Scratch, our_server, redis_server, scratch
from bench.relay.load import measure, measure_paced
from bench.relay.members import Members, create_members
from bench.relay.run import raise_file_limit
from bench.relay.sides import OurSide


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    return found


def top_entries(collapsed: Path, limit: int) -> dict[str, list[tuple[str, float]]]:
    """Shares of samples from py-spy's raw format: per function (own time and including
    callees) and per library (own time)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    library: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        # "function (path/file.py:123)" -> "function (path/file.py)"
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
        where = frames[-1].rpartition("(")[2].rstrip(")")
        library[where.split("/")[0] if "/" in where else where] += count
    total = max(1, total)
    return {
        name: [(key, count / total) for key, count in counter.most_common(limit)]
        for name, counter in (("own", own), ("inclusive", inclusive), ("library", library))
    }


async def drive(
    area: Scratch,
    members: Members,
    sockets: int,
    seconds: float,
    out: Path,
    *,
    redis: bool = False,
    paced: float = 0.0,
) -> list[Path]:
    with ExitStack() as stack:
        if redis:
            store = stack.enter_context(redis_server())
            shared = {"REDIS_URL": store.url}
            first, first_port = stack.enter_context(our_server(area, env=shared))
            second, second_port = stack.enter_context(our_server(area, env=shared))
            side = OurSide(
                pid=first.pid,
                port=first_port,
                ports=(first_port, second_port),
                members=members,
                lanes=25,
            )
            side.pids = [first.pid, second.pid, store.pid]
            sampled = [first.pid, second.pid]
        else:
            process, port = stack.enter_context(our_server(area))
            side = OurSide(pid=process.pid, port=port, members=members, lanes=25)
            sampled = [process.pid]
        await side.open(sockets)
        await side.pair()
        await measure(side.pairs, side.stats, server_pids=side.pids, warmup=1.0, window=1.0)
        outputs = [
            out.with_name(f"{out.stem}-{index}{out.suffix}") for index in range(len(sampled))
        ]
        samplers = [
            await asyncio.create_subprocess_exec(
                *[
                    py_spy(),
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(int(seconds)),
                    "--rate",
                    "250",
                    "--format",
                    "raw",
                    "--output",
                    str(output),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
            )
            for pid, output in zip(sampled, outputs, strict=True)
        ]
        if paced:
            window = await measure_paced(
                side.pairs,
                side.stats,
                server_pids=side.pids,
                rate_per_pair=paced,
                warmup=0.5,
                window=seconds + 1,
            )
        else:
            window = await measure(
                side.pairs, side.stats, server_pids=side.pids, warmup=0.5, window=seconds + 1
            )
        for sampler in samplers:
            await asyncio.wait_for(sampler.wait(), 60)
        figures = window.figures()
        print(
            f"while sampled: {figures['server_cpu_us_per_relay']:.1f} µs/relay "
            f"(the sampler itself adds some), {figures['relays_per_second']:.0f} relays/s, "
            f"round trip p50 {figures['rtt_p50_ms']:.2f} ms, p99 {figures['rtt_p99_ms']:.2f} ms"
            + (
                "; by process: "
                + ", ".join(f"{value:.1f}" for value in figures["cpu_us_per_relay_by_process"])
                if "cpu_us_per_relay_by_process" in figures
                else ""
            )
        )
        await side.close()
    return outputs


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.relay.profile")
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--redis", action="store_true", help="two processes sharing a Redis")
    parser.add_argument("--paced", type=float, default=0.0, help="round trips/s per pair")
    args = parser.parse_args()
    raise_file_limit()
    # Collapsed stacks are a working file, not a result: kept out of bench/results.
    out = Path(tempfile.gettempdir()) / "chatspheres-relay-profile.txt"
    import uvloop

    with scratch() as area:
        members = create_members(args.sockets + 2, lanes=25)
        outputs = uvloop.run(
            drive(
                area,
                members,
                args.sockets,
                args.seconds,
                out,
                redis=args.redis,
                paced=args.paced,
            )
        )
    for index, output in enumerate(outputs):
        if len(outputs) > 1:
            print(f"\n=== server {index + 1} ===")
        for name, entries in top_entries(output, args.top).items():
            print(f"\n{name} (share of samples):")
            for key, share in entries:
                print(f"  {share:6.1%}  {key}")
        print(f"\ncollapsed stacks: {output}")


if __name__ == "__main__":
    main()
