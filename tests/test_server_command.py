"""``python -m chatspheres.server``: what it refuses before serving anything."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from chatspheres.server import metrics_folder

ROOT = Path(__file__).resolve().parent.parent
# Bounds a hang; a refusal takes well under a second.
COMMAND_LIMIT_SECONDS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(*arguments: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the server command with REDIS_URL unset (plus ``env``); it must end by itself."""
    environment = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "chatspheres.server", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=COMMAND_LIMIT_SECONDS,
        check=False,
    )


def test_several_workers_without_redis_are_refused_at_once_saying_why() -> None:
    port = free_port()
    done = serve("--workers", "3", "--port", str(port))
    assert done.returncode == 2
    assert done.stdout == ""  # it never said it was serving
    assert done.stderr.strip().splitlines() == [
        "chatspheres.server: --workers 3 needs Redis: several processes need Redis to share "
        "the queue, presence and events; set REDIS_URL (or run one worker)."
    ]
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass  # nothing was ever bound


def test_an_empty_redis_url_counts_as_none() -> None:
    done = serve("--workers", "2", "--check", REDIS_URL="")
    assert done.returncode == 2
    assert "set REDIS_URL" in done.stderr


def test_the_check_make_run_does_first_passes_for_one_worker_or_with_redis() -> None:
    assert serve("--workers", "1", "--check").returncode == 0
    with_redis = serve("--workers", "4", "--check", REDIS_URL="redis://127.0.0.1:6379/0")
    assert (with_redis.returncode, with_redis.stderr) == (0, "")


def test_no_workers_at_all_is_a_usage_error() -> None:
    done = serve("--workers", "0", "--check")
    assert done.returncode == 2
    assert "--workers must be 1 or more" in done.stderr


def test_the_metrics_folder_is_emptied_of_an_earlier_runs_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_1234.db").write_bytes(b"old")
    (folder / "gauge_livesum_1234.db").write_bytes(b"old")
    (folder / "README").write_text("not ours to delete")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    assert metrics_folder(8000) == folder
    assert sorted(path.name for path in folder.iterdir()) == ["README"]


def test_by_default_the_metrics_folder_is_per_port_under_var(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.conf import settings

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    port = free_port()
    folder = metrics_folder(port)
    try:
        assert folder == Path(settings.VAR_DIR) / "prometheus" / str(port)
        assert folder.is_dir()
    finally:
        folder.rmdir()
