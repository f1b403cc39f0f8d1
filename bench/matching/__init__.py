"""Matching benchmark: the interest-indexed engine and the Redis matcher against a naive scan.

Run with ``python -m bench.matching [--quick]``; see ``bench/matching/run.py``
for what is measured and how.
"""
