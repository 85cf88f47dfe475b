"""Debian's Chromium, headless, driven by playwright (whose own browser download needs the
internet)."""

import os
import shutil
from pathlib import Path

import pytest
from conftest import ROOT

ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", ROOT / "test-artifacts"))
TIMEOUT_MS = 90_000  # a guard against a hang: the pages drew in seconds on a Zen 3
needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="Debian's chromium is not installed (make test installs it where apt-get may)",
)


def chromium(playwright):
    return playwright.chromium.launch(
        executable_path=shutil.which("chromium"), args=["--no-sandbox"]
    )
