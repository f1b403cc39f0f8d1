"""``python -m bench.reconnect [--quick]``: the reconnect benchmark (see bench/reconnect/run.py)."""

from bench.reconnect.run import main

main()
