"""What the real-time core counts for operators (``/metrics``, Prometheus format).

Apps define their own metrics beside their code (the matching app the waiting
tabs and the wait times, the calls app the active calls); these are the
core's. ``metrics_endpoint.py`` serves them all. Gauges say how to add up
across worker processes (``multiprocess_mode``): a worker that died no
longer counts. The relay counter counts both routes a relayed frame can take
(the lane in ``Tab.receive_now``, the ordinary one in the calls app), through
:data:`relays`, a tally cheap enough for the hot path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge

from chatspheres.realtime.registry import registry

if TYPE_CHECKING:
    from chatspheres.realtime.runtime import Runtime

SOCKETS_OPEN = Gauge(
    "chatspheres_sockets_open", "WebSockets open on this process", multiprocess_mode="livesum"
)
RELAYED = Counter(
    "chatspheres_relayed_frames", "Signals and media states relayed to a partner's tab"
)
HANDLER_ERRORS = Counter(
    "chatspheres_handler_errors",
    "Frames whose handler failed unexpectedly (answered with an 'internal' error)",
    ["type"],
)
HANDSHAKES_REFUSED = Counter(
    "chatspheres_handshakes_refused", "WebSocket handshakes refused, by reason", ["reason"]
)


class RelayTally:
    """Relays counted with a plain integer on the hot path, added to :data:`RELAYED` in batches.

    ``Counter.inc`` takes a lock on every call: on the relay lane that was
    about an eighth of a relayed frame's cost. The tally is flushed every
    second and before each scrape.
    """

    __slots__ = ("pending",)

    def __init__(self) -> None:
        self.pending = 0

    def flush(self) -> None:
        """Add what was counted since the last flush to the Prometheus counter."""
        pending, self.pending = self.pending, 0
        if pending:
            RELAYED.inc(pending)


relays = RelayTally()


@registry.every(1.0)
async def flush_relays(_runtime: Runtime) -> None:
    """Keep the relay counter (and, with several workers, its file) at most a second behind."""
    relays.flush()
