"""Reconnect benchmark: from a dropped socket to a resumed call that missed nothing.

Run with ``python -m bench.reconnect [--quick]`` (see bench/reconnect/run.py).
"""
