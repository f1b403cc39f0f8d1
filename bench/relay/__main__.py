"""``python -m bench.relay [--quick]``: the relay benchmark (see bench/relay/run.py)."""

from bench.relay.run import main

main()
