"""End to end in a real headless browser: Debian's Chromium driven by Playwright.

Opens the Space, picks a family, clicks Generate, waits for the figure and saves a screenshot
(`space.png` in the test's temp dir; its path is printed). Skipped, with the reason, when
Chromium (`apt-get install chromium`) or Playwright (`pip install playwright`) is missing.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("SEISMIC_DIFFUSERS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FAMILY = "curvefault-a"


@pytest.fixture(scope="module")
def sync_playwright():
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(
            f"browser test skipped: no Chromium at {CHROMIUM} (Debian: apt-get install -y chromium; "
            ".ci/run tries this)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser test skipped: Playwright is not installed (pip install -e '.[dev]')")
    return sync_playwright


def test_generate_in_a_real_browser(sync_playwright, space_url, tmp_path):
    screenshot = tmp_path / "space.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path / "chromium-profile"),  # fresh, empty profile
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            page = browser.new_page()
            errors = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(space_url, wait_until="domcontentloaded", timeout=60_000)
            button = page.get_by_role("button", name="Generate velocity models")
            button.wait_for(timeout=60_000)

            # Pick the family from the dropdown, as a person would.
            family = page.get_by_label("Family", exact=True)
            family.click()
            page.get_by_role("option", name=FAMILY, exact=True).click()
            assert family.input_value() == FAMILY

            started = time.perf_counter()
            button.click()
            image = page.locator(f"img[src*='velocity_{FAMILY}_n4_seed0']")
            image.wait_for(state="visible", timeout=120_000)
            page.wait_for_function(
                "img => img.complete && img.naturalWidth > 0", arg=image.element_handle(), timeout=30_000
            )
            seconds = time.perf_counter() - started
            assert page.get_by_text("made in", exact=False).first.is_visible()
            page.screenshot(path=str(screenshot), full_page=True)
            assert not errors, f"JavaScript errors on the page: {errors}"
        finally:
            browser.close()

    assert screenshot.read_bytes().startswith(b"\x89PNG")
    keep = os.environ.get("SEISMIC_DIFFUSERS_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(screenshot, Path(keep) / screenshot.name)
    print(f"click to figure: {seconds:.1f} s (4 maps, 25 steps); screenshot: {screenshot}")
