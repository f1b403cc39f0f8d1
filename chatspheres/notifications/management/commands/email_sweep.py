"""``manage.py email_sweep [--prune]``: put back the emails a lost worker left behind, now.

The task worker does the same every ``TASK_UPKEEP_SECONDS``
(``chatspheres.taskworker.worker_upkeep``); this is for an operator who
does not want to wait, or runs no worker beside the server for a while.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Send again the emails a killed worker left 'sending', queue the ones left without a"
        " task; with --prune, also mark lost tasks failed and delete old records."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--prune",
            action="store_true",
            help="also do the rest of the worker's upkeep: lost tasks, old task results and emails",
        )

    def handle(self, *args: Any, prune: bool, **options: Any) -> None:
        """Run the sweep (and with --prune the whole upkeep); print what it did."""
        from chatspheres.notifications.emails import email_sweep
        from chatspheres.taskworker import worker_upkeep

        done = worker_upkeep() if prune else email_sweep().counts()
        for what, count in done.items():
            self.stdout.write(f"{what}: {count}")
