"""Headless Chromium for the browser tests: installed from Debian when missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """Path of chromium; installs it with apt when possible, skips the test otherwise."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update"], check=False, capture_output=True, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "chromium"], check=False, capture_output=True, env=env
        )
        found = shutil.which("chromium")
        if found:
            return found
    pytest.skip("chromium is missing and cannot be installed (needs root and apt-get)")


def dump_dom(page: Path, profile: Path) -> str:
    """The DOM after the page's scripts ran."""
    res = subprocess.run(
        [
            chromium_path(),
            *FLAGS,
            f"--user-data-dir={profile}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return res.stdout


def screenshot(page: Path, png: Path, profile: Path, size: str = "1200,1600") -> Path:
    """PNG screenshot of a page."""
    subprocess.run(
        [
            chromium_path(),
            *FLAGS,
            f"--user-data-dir={profile}",
            "--virtual-time-budget=8000",
            "--hide-scrollbars",
            f"--window-size={size}",
            f"--screenshot={png.resolve()}",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return png
