"""The README's promises about the Makefile that a newcomer relies on."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_make_manage_runs_a_command_as_make_run_does_and_site_url_follows_the_port():
    """`make manage ARGS="…"` works as written (DEBUG on, no SECRET_KEY to give), and the QR
    codes' address follows PORT unless SITE_URL is set."""
    env = {k: v for k, v in os.environ.items() if k not in ("SITE_URL", "SECRET_KEY", "DEBUG")}
    show = "shell -c 'from django.conf import settings; print(settings.SITE_URL, settings.DEBUG)'"
    result = subprocess.run(
        ["make", "-s", "manage", "PORT=8123", f"ARGS={show}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "http://127.0.0.1:8123 True" in result.stdout.splitlines()
    chosen = subprocess.run(
        ["make", "-s", "manage", "PORT=8123", f"ARGS={show}"],
        cwd=ROOT,
        env={**env, "SITE_URL": "https://resiliation.sbee.bj"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "https://resiliation.sbee.bj True" in chosen.stdout.splitlines()
