"""Static files: hashed names cached for years and compressed once collected; plain names before."""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
OURS = {"BACKEND": "chatspheres.common.static.StaticFilesStorage"}
A_YEAR = 365 * 24 * 3600


def stylesheet_url(client: Client) -> str:
    html = client.get("/").content.decode()
    match = re.search(r'<link rel="stylesheet" href="(/static/css/app[^"]*\.css)">', html)
    assert match is not None
    return match[1]


def test_collected_files_have_hashed_names_cached_for_a_year_and_compressed(
    settings: Any, tmp_path: Path
) -> None:
    settings.STORAGES = {**settings.STORAGES, "staticfiles": OURS}
    settings.STATIC_ROOT = tmp_path
    call_command("collectstatic", interactive=False, verbosity=0)
    client = Client()  # a new one: WhiteNoise reads STATIC_ROOT when it starts

    url = stylesheet_url(client)
    assert re.fullmatch(r"/static/css/app\.[0-9a-f]{12}\.css", url)
    response = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    max_age = re.search(r"max-age=(\d+)", response["Cache-Control"])
    assert max_age is not None and int(max_age[1]) >= A_YEAR
    assert "immutable" in response["Cache-Control"]
    assert response["Content-Encoding"] in {"gzip", "br"}
    if response["Content-Encoding"] == "gzip":
        body = gzip.decompress(b"".join(response.streaming_content))  # type: ignore[attr-defined]
        assert body == (settings.BASE_DIR / "chatspheres/static/css/app.css").read_bytes()


def test_modules_import_each_other_by_their_hashed_names(settings: Any, tmp_path: Path) -> None:
    # A page loads safety.js by its hashed name and call.js imports it: by
    # the same name, or the browser would run it twice as two modules.
    from django.contrib.staticfiles.storage import staticfiles_storage

    settings.STORAGES = {**settings.STORAGES, "staticfiles": OURS}
    settings.STATIC_ROOT = tmp_path
    call_command("collectstatic", interactive=False, verbosity=0)
    call_js = (tmp_path / staticfiles_storage.stored_name("js/call.js")).read_text()
    for module in ("realtime", "safety"):
        hashed = Path(staticfiles_storage.stored_name(f"js/{module}.js")).name
        assert re.fullmatch(rf"{module}\.[0-9a-f]{{12}}\.js", hashed)
        assert f'from "./{hashed}";' in call_js


def test_before_anything_is_collected_pages_name_files_plainly_and_they_are_served(
    settings: Any, tmp_path: Path
) -> None:
    settings.STORAGES = {**settings.STORAGES, "staticfiles": OURS}
    settings.STATIC_ROOT = tmp_path  # empty: no manifest
    client = Client()
    url = stylesheet_url(client)
    assert url == "/static/css/app.css"
    assert client.get(url).status_code == 200


# Files with members' data or secrets ---------------------------------------


def test_the_database_and_the_generated_secret_key_are_readable_by_their_owner_only(
    tmp_path: Path,
) -> None:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "SECRET_KEY", "DJANGO_SETTINGS_MODULE"}
    }
    environment["CHATSPHERES_VAR_DIR"] = str(tmp_path)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=environment,
        check=True,
        timeout=300,
        umask=0o022,  # what most shells give: files readable by everyone unless made otherwise
    )
    for name in ("chatspheres.sqlite3", "secret_key"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name
    assert (tmp_path / "chatspheres.sqlite3").stat().st_size > 0  # migrated, not just created


def test_processes_starting_together_agree_on_one_generated_secret_key(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    environment["CHATSPHERES_VAR_DIR"] = str(tmp_path)
    read_key = "import chatspheres.settings as s; print(s.SECRET_KEY)"
    starting = [
        subprocess.Popen(
            [sys.executable, "-c", read_key],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    keys = {process.communicate(timeout=120)[0].strip() for process in starting}
    assert [process.returncode for process in starting] == [0, 0, 0, 0]
    assert keys == {(tmp_path / "secret_key").read_text().strip()}
    assert len(keys.pop()) >= 50
    assert sorted(path.name for path in tmp_path.iterdir() if "secret" in path.name) == [
        "secret_key"
    ]
