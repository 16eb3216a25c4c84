"""Run the Debian Chromium headless on a local file: the DOM after scripts ran, the console
lines it logged, and screenshots. Tests skip, saying why, where Chromium is missing."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import pytest

NAMES = ("chromium", "chromium-headless-shell", "chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]


def chromium() -> str:
    """The Chromium binary, or a skip that says why (also as a warning, so it is seen)."""
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    reason = "Chromium is not installed (setup.sh --test installs it with apt-get as root)"
    warnings.warn(f"browser test skipped: {reason}", stacklevel=2)
    pytest.skip(reason)


def render(page: Path, timeout: float = 90, fragment: str = "") -> tuple[str, list[str]]:
    """The DOM of `page` after its scripts ran, and every console line Chromium logged."""
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr",
             "--v=0", "--dump-dom", page.absolute().as_uri() + fragment],
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return done.stdout, console


def screenshot(page: Path, png: Path, size: str = "1280,1800", timeout: float = 90) -> None:
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", f"--window-size={size}",
             f"--screenshot={png.absolute()}", page.absolute().as_uri()],
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
    assert done.returncode == 0 and png.is_file(), done.stderr[-2000:]
