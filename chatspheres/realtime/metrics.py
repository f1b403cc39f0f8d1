"""What the real-time core counts for operators (``/metrics``, Prometheus format).

Apps define their own metrics beside their code (the matching app the waiting
tabs and the wait times, the calls app the active calls); these are the
core's. ``metrics_endpoint.py`` serves them all. Gauges say how to add up
across worker processes (``multiprocess_mode``): a worker that died no
longer counts. The relay counter counts both routes a relayed frame can take
(the lane in ``Tab.receive_now``, the ordinary one in the calls app).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

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
