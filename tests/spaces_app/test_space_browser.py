"""End to end in a real headless browser: Debian's Chromium driven by Playwright.

Opens the Space, picks a family, clicks Generate, waits for the figure and saves a screenshot
(`space.png` in the test's temp dir; its path is printed); then the same on the denoise tab with
its bundled example (`space_denoise.png`). Skipped, with the reason, when
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


def open_page(playwright, space_url, tmp_path):
    """A fresh headless Chromium on the Space; returns (browser, page, JavaScript errors seen)."""
    browser = playwright.chromium.launch_persistent_context(
        user_data_dir=str(tmp_path / "chromium-profile"),  # fresh, empty profile
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_FLAGS,
        viewport={"width": 1400, "height": 1000},
    )
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(space_url, wait_until="domcontentloaded", timeout=60_000)
    return browser, page, errors


def wait_for_figure(page, name_part: str) -> None:
    image = page.locator(f"img[src*='{name_part}']")
    image.wait_for(state="visible", timeout=120_000)
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle(), timeout=30_000
    )


def keep_screenshot(screenshot: Path) -> None:
    assert screenshot.read_bytes().startswith(b"\x89PNG")
    keep = os.environ.get("SEISMIC_DIFFUSERS_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(screenshot, Path(keep) / screenshot.name)


def test_generate_in_a_real_browser(sync_playwright, space_url, tmp_path):
    screenshot = tmp_path / "space.png"
    with sync_playwright() as playwright:
        browser, page, errors = open_page(playwright, space_url, tmp_path)
        try:
            button = page.get_by_role("button", name="Generate velocity models")
            button.wait_for(timeout=60_000)

            # Pick the family from the dropdown, as a person would.
            family = page.get_by_label("Family", exact=True)
            family.click()
            page.get_by_role("option", name=FAMILY, exact=True).click()
            assert family.input_value() == FAMILY

            started = time.perf_counter()
            button.click()
            wait_for_figure(page, f"velocity_{FAMILY}_n4_seed0")
            seconds = time.perf_counter() - started
            assert page.get_by_text("made in", exact=False).first.is_visible()
            page.screenshot(path=str(screenshot), full_page=True)
            assert not errors, f"JavaScript errors on the page: {errors}"
        finally:
            browser.close()

    keep_screenshot(screenshot)
    print(f"click to figure: {seconds:.1f} s (4 maps, 25 steps); screenshot: {screenshot}")


def test_denoise_the_example_in_a_real_browser(sync_playwright, space_url, tmp_path):
    screenshot = tmp_path / "space_denoise.png"
    with sync_playwright() as playwright:
        browser, page, errors = open_page(playwright, space_url, tmp_path)
        try:
            page.get_by_role("tab", name="Denoise a seismogram").click()
            button = page.get_by_role("button", name="Denoise", exact=True)
            button.wait_for(timeout=60_000)
            started = time.perf_counter()
            button.click()
            wait_for_figure(page, "RJOB_example_denoised")
            seconds = time.perf_counter() - started
            assert page.get_by_text("SNR around P", exact=False).first.is_visible()
            page.screenshot(path=str(screenshot), full_page=True)
            assert not errors, f"JavaScript errors on the page: {errors}"
        finally:
            browser.close()

    keep_screenshot(screenshot)
    print(f"click to figure: {seconds:.1f} s (example event, 5 dB noise, direct); screenshot: {screenshot}")
