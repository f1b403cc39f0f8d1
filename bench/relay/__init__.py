"""Relay benchmark: our ``/ws/`` against the PeerJS server, one load generator.

Run with ``python -m bench.relay [--quick]``. :func:`ensure_peerjs` installs
the pinned PeerJS server into ``bench/vendor`` when it is missing.
"""

from bench.relay.peerjs import ensure_peerjs

__all__ = ["ensure_peerjs"]
