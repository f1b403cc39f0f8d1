"""Settings are checked at start-up: a bad value stops every entry point with one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chatspheres.common import config
from chatspheres.common.config import InvalidSetting

ROOT = Path(__file__).resolve().parents[2]
# Bounds a hang; a refusal takes about a second.
COMMAND_LIMIT_SECONDS = 60


def run(command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """Run a command of the project with ``env`` added to a clean environment."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("RATE_LIMIT_", "REALTIME_", "DJANGO_"))
        and key not in {"REDIS_URL", "DATABASE_URL", "TRUSTED_PROXIES"}
    }
    environment.update(env)
    return subprocess.run(
        command,
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=COMMAND_LIMIT_SECONDS,
        check=False,
    )


def refusal_of(done: subprocess.CompletedProcess[str]) -> str:
    """The one line a refused start printed; nothing else may be on standard error."""
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


MANAGE = [sys.executable, "manage.py", "check"]
SERVER = [sys.executable, "-m", "chatspheres.server", "--check"]


@pytest.mark.parametrize("command", [MANAGE, SERVER], ids=["manage.py", "server"])
def test_a_misspelt_boolean_stops_the_start_with_one_line(command: list[str]) -> None:
    assert refusal_of(run(command, HTTPS="ture")) == (
        "ChatSpheres cannot start: HTTPS='ture' is not valid; use true or false (or 1/0, yes/no)."
    )


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        (
            "ICE_SERVERS",
            "[{urls: stun:x}]",
            'use a JSON list of ICE servers such as [{"urls": ["stun:stun.example.org:3478"]}]',
        ),
        ("REALTIME_PING_INTERVAL", "soon", "use a number of seconds greater than 0"),
        ("REALTIME_MAX_TABS_PER_MEMBER", "0", "use a whole number of at least 1"),
        ("ACCOUNT_EMAIL_VERIFICATION", "always", "use one of none, optional, mandatory"),
        ("RATE_LIMIT_QUEUE_JOIN", "60 per minute", "use a count per period such as 20/m"),
        ("EMAIL_PORT", "70000", "use a whole number from 1 to 65535"),
        ("DATABASE_URL", "mysql://u@h/db", "use a database URL starting with sqlite://"),
        ("TRUSTED_PROXIES", "the proxy", "use comma-separated IP addresses or networks"),
        ("ALLOWED_HOSTS", "https://chatspheres.example", "use comma-separated host names"),
        ("SITE_URL", "chatspheres.example", "use the site's address such as https://"),
        ("CSRF_TRUSTED_ORIGINS", "chatspheres.example", "use comma-separated origins such as"),
    ],
)
def test_each_kind_of_bad_value_is_named_with_what_is_allowed(
    variable: str, value: str, words: str
) -> None:
    line = refusal_of(run(MANAGE, **{variable: value}))
    assert line.startswith(f"ChatSpheres cannot start: {variable}={value!r} is not valid; ")
    assert words in line


def test_the_server_refuses_a_bad_port_before_anything_else() -> None:
    assert refusal_of(run(SERVER, PORT="80a")) == (
        "ChatSpheres cannot start: PORT='80a' is not valid; use a whole number from 1 to 65535."
    )


def test_make_run_stops_at_its_first_step_with_the_same_line() -> None:
    # -o: never (re)install the virtualenv here; PY: this interpreter.
    done = run(
        ["make", "-o", ".venv/.base-installed", "run", f"PY={sys.executable}"],
        REALTIME_RATE_BURST="lots",
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert (
        "ChatSpheres cannot start: REALTIME_RATE_BURST='lots' is not valid; "
        "use a whole number of at least 1." in done.stderr.splitlines()
    )
    assert "migrate" not in done.stdout  # it stopped before touching the database


def test_a_database_password_is_never_printed() -> None:
    line = refusal_of(run(MANAGE, DATABASE_URL="mysql://site:hunter2@db/site"))
    assert "hunter2" not in line
    assert "mysql://site:***@db/site" in line


def test_a_misspelt_limit_name_is_refused_rather_than_ignored() -> None:
    line = refusal_of(run(MANAGE, RATE_LIMIT_QUEUEJOIN="5/m"))
    assert line.startswith("ChatSpheres cannot start: RATE_LIMIT_QUEUEJOIN='5/m' is not valid; ")
    assert "no such limit; the limits are RATE_LIMIT_BLOCK, " in line


def test_the_old_proxy_variable_asks_to_be_renamed() -> None:
    line = refusal_of(run(MANAGE, FORWARDED_ALLOW_IPS="127.0.0.1"))
    assert line.endswith("ChatSpheres reads TRUSTED_PROXIES instead; rename it.")


# The readers themselves, without a process --------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("Yes", True),
        ("false", False),
        ("0", False),
        ("no", False),
        (" False ", False),
        ("", True),  # empty counts as unset: the default
    ],
)
def test_booleans_accept_exactly_the_documented_words(
    monkeypatch: pytest.MonkeyPatch, text: str, expected: bool
) -> None:
    monkeypatch.setenv("SOME_FLAG", text)
    assert config.env_bool("SOME_FLAG", True) is expected


@pytest.mark.parametrize("text", ["ture", "on", "off", "y", "2", "enabled"])
def test_anything_else_is_not_a_boolean(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv("SOME_FLAG", text)
    with pytest.raises(InvalidSetting) as refused:
        config.env_bool("SOME_FLAG", False)
    assert refused.value.name == "SOME_FLAG"
    assert refused.value.value == text


def test_ice_servers_must_each_name_stun_or_turn_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ICE_SERVERS", '[{"urls": "turn:t.example:3478", "username": "u"}]')
    assert config.env_ice_servers("ICE_SERVERS") == [
        {"urls": "turn:t.example:3478", "username": "u"}
    ]
    for bad in ('{"urls": "stun:x"}', '[{"urls": []}]', '[{"urls": ["http://x"]}]', "[1]"):
        monkeypatch.setenv("ICE_SERVERS", bad)
        with pytest.raises(InvalidSetting):
            config.env_ice_servers("ICE_SERVERS")


def test_rate_limits_read_each_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATE_LIMIT_RING", " 3 / h ")
    assert config.env_rate_limits({"ring": "10/m", "report": "10/h"}) == {
        "ring": "3/h",
        "report": "10/h",
    }
    monkeypatch.setenv("RATE_LIMIT_RING", "0/h")
    with pytest.raises(InvalidSetting):
        config.env_rate_limits({"ring": "10/m"})


def test_durations_refuse_what_is_not_a_finite_positive_number(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for bad in ("nan", "inf", "-1", "0", "a minute"):
        monkeypatch.setenv("SOME_SECONDS", bad)
        with pytest.raises(InvalidSetting):
            config.env_seconds("SOME_SECONDS", 5)
    monkeypatch.setenv("SOME_SECONDS", "0")
    assert config.env_seconds("SOME_SECONDS", 5, positive=False) == 0
