"""``python -m chatspheres.server`` under tracemalloc, for finding what an idle socket costs.

Started by ``bench.sockets`` (never by `make run`). On SIGUSR2 it starts
tracing (late, so start-up and the first connections run at full speed and
their one-time allocations are not counted); on SIGUSR1 it writes a
tracemalloc snapshot to the path in ``BENCH_TRACEMALLOC_SNAPSHOT`` and then
touches ``<path>.done``.
"""

from __future__ import annotations

import os
import signal
import tracemalloc
from pathlib import Path
from types import FrameType

FRAMES = 4  # enough to tell whose asyncio.Queue or Task a block belongs to


def _dump(_signum: int, _frame: FrameType | None) -> None:
    path = Path(os.environ["BENCH_TRACEMALLOC_SNAPSHOT"])
    tracemalloc.take_snapshot().dump(str(path))
    Path(f"{path}.done").touch()


def _start(_signum: int, _frame: FrameType | None) -> None:
    tracemalloc.start(FRAMES)
    path = Path(os.environ["BENCH_TRACEMALLOC_SNAPSHOT"])
    Path(f"{path}.tracing").touch()


def main() -> None:
    signal.signal(signal.SIGUSR2, _start)
    signal.signal(signal.SIGUSR1, _dump)
    from chatspheres.server import main as serve

    serve()


if __name__ == "__main__":
    main()
