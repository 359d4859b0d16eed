"""Driving the console as a person does: Debian's Chromium under Playwright's Python API
(its own browser download is not reachable here), a screenshot of each page under
``var/screenshots/``, and axe-core's accessibility check."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from playwright.async_api import Page

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
AXE = (
    ROOT
    / "services"
    / "gateway"
    / "console"
    / "assets"
    / "node_modules"
    / "axe-core"
    / "axe.min.js"
)
SERIOUS = ("serious", "critical")


def chromium_path() -> str:
    """Debian's chromium (make install puts it there)."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise AssertionError("Debian's chromium is not installed: run the tests with `make test`")


async def sign_in(page: Page, base: str, key: str) -> None:
    await page.goto(f"{base}/console/signin")
    await page.fill("#key", key)
    await page.click("button[type=submit]")
    await page.wait_for_load_state("load")


async def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page as it is now. axe is run
    through the DevTools protocol, which the page's CSP does not govern."""
    await page.evaluate(AXE.read_text())
    result: dict[str, Any] = await page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v.get("impact") in SERIOUS
    ]
