"""Playwright, which drives Debian's chromium in the browser tests; it is in the `ui` dependency group."""
from __future__ import annotations

import pytest


def sync_playwright():
    """playwright.sync_api.sync_playwright(), or a failure saying how to install it (never a skip)."""
    try:
        from playwright.sync_api import sync_playwright as start
    except ModuleNotFoundError:
        pytest.fail("Playwright is in the `ui` dependency group: run the browser tests with "
                    "`uv run --group ui pytest -m slow ...` (.ci/run installs it)", pytrace=False)
    return start()
