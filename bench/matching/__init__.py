"""Matching benchmark: the interest-indexed engine against a naive linear scan.

Run with ``python -m bench.matching [--quick]``; see ``bench/matching/run.py``
for what is measured and how.
"""
