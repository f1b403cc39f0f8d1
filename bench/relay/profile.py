"""Profile our server under the relay load: ``python -m bench.relay.profile [--sockets 500]``.

Starts ChatSpheres alone, connects and pairs the sockets as the benchmark
does, keeps them ping-ponging, and samples the server with py-spy (install it
in the venv by hand: ``.venv/bin/pip install py-spy``; it is not a project
requirement). Prints the functions with the most samples, by own time and
including callees, and leaves the collapsed stacks in the temporary folder.
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
from pathlib import Path

from bench.common import Scratch, our_server, scratch
from bench.relay.load import measure
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


async def drive(area: Scratch, members: Members, sockets: int, seconds: float, out: Path) -> None:
    with our_server(area) as (process, port):
        side = OurSide(pid=process.pid, port=port, members=members, lanes=25)
        await side.open(sockets)
        await side.pair()
        await measure(side.pairs, side.stats, server_pids=side.pids, warmup=1.0, window=1.0)
        sampler = await asyncio.create_subprocess_exec(
            *[
                py_spy(),
                "record",
                "--pid",
                str(process.pid),
                "--duration",
                str(int(seconds)),
                "--rate",
                "250",
                "--format",
                "raw",
                "--output",
                str(out),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
        )
        window = await measure(
            side.pairs, side.stats, server_pids=side.pids, warmup=0.5, window=seconds + 1
        )
        await asyncio.wait_for(sampler.wait(), 60)
        figures = window.figures()
        print(
            f"while sampled: {figures['server_cpu_us_per_relay']:.1f} µs/relay "
            f"(the sampler itself adds some), {figures['relays_per_second']:.0f} relays/s"
        )
        await side.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.relay.profile")
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    raise_file_limit()
    # Collapsed stacks are a working file, not a result: kept out of bench/results.
    out = Path(tempfile.gettempdir()) / "chatspheres-relay-profile.txt"
    import uvloop

    with scratch() as area:
        members = create_members(args.sockets + 2, lanes=25)
        uvloop.run(drive(area, members, args.sockets, args.seconds, out))
    for name, entries in top_entries(out, args.top).items():
        print(f"\n{name} (share of samples):")
        for key, share in entries:
            print(f"  {share:6.1%}  {key}")
    print(f"\ncollapsed stacks: {out}")


if __name__ == "__main__":
    main()
