"""Idle sockets: server memory and connect-to-ready time with thousands of signed-in tabs open.

Run with ``python -m bench.sockets [--quick]``.
"""
