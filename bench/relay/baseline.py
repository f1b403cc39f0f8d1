"""The real-time core as it was before the rewrite, served beside ours in the same run.

``python -m bench.relay`` measures, at 500 sockets, a fourth side,
``chatspheres-before``: the server of commit :data:`BASELINE_COMMIT` (the last
one before the real-time core was rewritten), exported with ``git archive``
into a temporary folder (the repository is not touched), with its own
database migrated and its own members made by that commit's code. It runs on
this venv and is driven exactly like ours, so "where the relay was before the
rewrite" is measured on the same machine, in the same minutes, rather than
read from an old report.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.common import ROOT, Scratch, free_port, listening_process
from bench.relay.members import Members

# The last commit before "Real-time core: apps plug in through a registry, …" (a0dc7c1).
BASELINE_COMMIT = "cf54473"

_MAKE_MEMBERS = """
import json, os, sys
sys.path.insert(0, os.getcwd())
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from bench.relay.members import create_members
made = create_members(int(sys.argv[1]), lanes=int(sys.argv[2]))
print(json.dumps({"user_ids": made.user_ids, "cookies": made.cookies,
                  "sphere_of_pair": made.sphere_of_pair}))
"""


@dataclass(frozen=True)
class Baseline:
    """The old commit's files, its database and its members."""

    commit: str
    folder: Path
    env: dict[str, str]
    members: Members


def available(commit: str = BASELINE_COMMIT) -> str | None:
    """Why the baseline cannot be served here (no git, no such commit), or None."""
    git = shutil.which("git")
    if git is None:
        return "git is not installed"
    found = subprocess.run(
        [git, "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT, capture_output=True, check=False
    )
    if found.returncode != 0:
        return f"commit {commit} is not in this repository"
    return None


@contextmanager
def baseline(
    area: Scratch, count: int, lanes: int, commit: str = BASELINE_COMMIT
) -> Iterator[Baseline]:
    """Export ``commit``, migrate a database of its own, make ``count`` members with its code."""
    folder = Path(tempfile.mkdtemp(prefix="chatspheres-bench-before-"))
    try:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", commit], cwd=ROOT, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
        env = {**area.env, "CHATSPHERES_VAR_DIR": str(folder / "var")}
        made = subprocess.run(
            [sys.executable, "-c", _MAKE_MEMBERS, str(count), str(lanes)],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        members = Members(**json.loads(made.stdout.strip().splitlines()[-1]))
        yield Baseline(commit=commit, folder=folder, env=env, members=members)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def baseline_server(old: Baseline) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """The old commit's ``python -m chatspheres.server`` on a free loopback port."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "chatspheres.server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with listening_process(command, port=port, cwd=old.folder, env=old.env) as served:
        yield served
