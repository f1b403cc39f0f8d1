"""TURN settings are checked at start-up, and the shared secret is never printed."""

from __future__ import annotations

import pytest

from chatspheres.common import config
from chatspheres.common.config import InvalidSetting
from tests.common.test_config import MANAGE, refusal_of, run

SECRET = "0123456789abcdef0123456789abcdef"


def test_turn_urls_and_a_long_secret_are_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TURN_URLS", "turn:turn.example.org:3478, turns:turn.example.org:443")
    monkeypatch.setenv("TURN_SECRET", SECRET)
    assert config.env_turn("TURN_URLS", "TURN_SECRET") == (
        ["turn:turn.example.org:3478", "turns:turn.example.org:443"],
        SECRET,
    )


def test_no_turn_is_fine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TURN_URLS", raising=False)
    monkeypatch.delenv("TURN_SECRET", raising=False)
    assert config.env_turn("TURN_URLS", "TURN_SECRET") == ([], "")


@pytest.mark.parametrize(
    ("urls", "secret", "line"),
    [
        (
            "stun:stun.example.org:3478",
            SECRET,
            "ChatSpheres cannot start: TURN_URLS='stun:stun.example.org:3478' is not valid;"
            " use comma-separated TURN URLs such as turn:turn.example.org:3478.",
        ),
        (
            "turn:turn.example.org:3478",
            "",
            "ChatSpheres cannot start: TURN_URLS='turn:turn.example.org:3478' is not valid;"
            " set TURN_SECRET too (coturn's static-auth-secret).",
        ),
        (
            "",
            SECRET,
            "ChatSpheres cannot start: TURN_URLS='' is not valid;"
            " list the relay's URLs, since TURN_SECRET is set.",
        ),
        (
            "turn:turn.example.org:3478",
            "short-secret",
            "ChatSpheres cannot start: TURN_SECRET='(hidden, 12 characters)' is not valid;"
            " use at least 32 random characters (openssl rand -hex 32).",
        ),
    ],
)
def test_a_turn_setting_that_cannot_work_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, urls: str, secret: str, line: str
) -> None:
    monkeypatch.setenv("TURN_URLS", urls)
    monkeypatch.setenv("TURN_SECRET", secret)
    with pytest.raises(InvalidSetting) as refused:
        config.env_turn("TURN_URLS", "TURN_SECRET")
    assert str(refused.value) == line
    if secret:
        assert secret not in str(refused.value)


def test_a_credential_ttl_over_an_hour_stops_the_start() -> None:
    line = refusal_of(run(MANAGE, TURN_CREDENTIAL_TTL="7200"))
    assert line.startswith("ChatSpheres cannot start: TURN_CREDENTIAL_TTL='7200' is not valid;")


def test_a_short_secret_stops_the_start_without_being_printed() -> None:
    done = run(MANAGE, TURN_URLS="turn:turn.example.org:3478", TURN_SECRET="hunter2")
    line = refusal_of(done)
    assert line.startswith("ChatSpheres cannot start: TURN_SECRET='(hidden, 7 characters)'")
    assert "hunter2" not in done.stderr + done.stdout
