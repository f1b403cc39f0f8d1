"""``manage.py check --deploy`` is clean with the production settings of the operator guide."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "operator-guide.md"

# What an operator writes in place of each <placeholder> of the guide's block.
FILLED_IN = {
    "<a long random string, kept secret>": "k3N9-qv7Zr2Lw8xPb5Tc1Hy6Ud4Fs0Gm_Ja2Qe7Rn9Vt3Xo5Wi8Y",
    "<your host>": "chatspheres.example",
    "<user>": "chatspheres",
    "<password>": "db-password",
    "<db host>": "10.0.0.4",
    "<database>": "chatspheres",
    "<redis host>": "10.0.0.5",
    "<your monitoring host>": "10.0.0.9",
}


def production_environment() -> dict[str, str]:
    """The variables of the guide's first ``sh`` block under "## Environment", filled in."""
    text = GUIDE.read_text()
    section = text[text.index("\n## Environment\n") :]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None, "the operator guide's Environment section has no sh block"
    variables = {}
    for line in block[1].splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, _, value = line.partition("=")
        for placeholder, example in FILLED_IN.items():
            value = value.replace(placeholder, example)
        assert "<" not in value, f"add an example for {value!r} to FILLED_IN"
        variables[name] = value
    return variables


def test_the_guides_production_settings_pass_every_deployment_check(tmp_path: Path) -> None:
    production = production_environment()
    assert production["HTTPS"] == "true"  # the block is the one meant for production
    production["CHATSPHERES_VAR_DIR"] = str(tmp_path)  # not /var/lib/chatspheres here
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "SECURE_", "REALTIME_", "RATE_LIMIT_"))
        and key not in {"DEBUG", "TRUSTED_PROXIES", "SESSION_COOKIE_SECURE"}
    }
    environment.update(production)
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.strip() == "System check identified no issues (0 silenced)."
