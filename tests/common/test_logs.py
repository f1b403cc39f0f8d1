"""What any client can trigger is logged as one WARNING line, without a traceback."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def lines_logged(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, bool]]:
    """(logger, level, has a traceback) for each record Django logged."""
    return [
        (record.name, record.levelname, record.exc_info is not None or record.exc_text is not None)
        for record in caplog.records
        if record.name.startswith("django.")
    ]


def test_a_wrong_host_header_is_one_warning_line(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = client.get("/spheres/", headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert lines_logged(caplog) == [("django.security.DisallowedHost", "WARNING", False)]
    message = caplog.records[-1].getMessage()
    assert message.startswith("Invalid HTTP_HOST header: 'evil.example'.")
    assert message.endswith("(GET /spheres/ from 127.0.0.1)")
    assert "\n" not in message


def test_an_oversized_body_is_one_warning_line(
    client: Client, caplog: pytest.LogCaptureFixture, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    with caplog.at_level(logging.INFO):
        response = client.post("/accounts/login/", {"login": "a" * 2000, "password": "x"})
    assert response.status_code == 400
    assert lines_logged(caplog) == [("django.security.RequestDataTooBig", "WARNING", False)]


def test_too_many_fields_is_one_warning_line(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = client.post("/accounts/login/", {f"f{n}": "x" for n in range(1001)})
    assert response.status_code == 400
    assert lines_logged(caplog) == [("django.security.TooManyFieldsSent", "WARNING", False)]


def test_our_own_failure_still_logs_its_traceback(
    caplog: pytest.LogCaptureFixture, settings: Any
) -> None:
    settings.ROOT_URLCONF = "tests.common.urls"
    client = Client(raise_request_exception=False)
    with caplog.at_level(logging.INFO):
        assert client.get("/test-only/broken/").status_code == 500
    assert lines_logged(caplog) == [("django.request", "ERROR", True)]
