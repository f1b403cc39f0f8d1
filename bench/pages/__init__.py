"""Pages benchmark: server time and SQL queries of the home page, the sphere list and a sphere page.

Run with ``python -m bench.pages [--quick]``; see ``bench/pages/run.py``.
"""
