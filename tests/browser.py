"""A real Chromium against a real `datasette serve`, for the browser tests.

Debian's Chromium (apt-get install chromium fonts-noto-cjk), driven by
Playwright; `playwright install` cannot download a browser on the machines
this runs on. Without Chromium the tests are skipped with the install
command, except under CI, where a missing browser is a failure."""

import os
import re
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL = "sudo apt-get install chromium fonts-noto-cjk  (or: make browser)"
OUTPUT = Path(__file__).resolve().parent.parent / "test-output"
# The pages load pictures from web.archive.org; the tests stay on loopback
# and show a labelled placeholder where the picture would be.
OFF_MACHINE = re.compile(r"^(?!https?://127\.0\.0\.1[:/])[a-z]+://")
PLACEHOLDER = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="640" height="360">'
    '<rect width="640" height="360" fill="#d8dde3"/>'
    '<text x="320" y="185" font-size="22" text-anchor="middle" fill="#555">'
    "picture from web.archive.org (not loaded in tests)</text></svg>"
)


def stay_on_loopback(route):
    if route.request.resource_type == "image":
        route.fulfill(status=200, content_type="image/svg+xml", body=PLACEHOLDER)
    else:
        route.abort()


def require_chromium():
    if Path(CHROMIUM).exists():
        return
    message = f"no Chromium at {CHROMIUM}: install it with {INSTALL}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


class Watcher:
    """Everything a page did that a reader's browser should never do: open a
    dialog (alert), throw a script error."""

    def __init__(self, page):
        self.dialogs, self.errors = [], []
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()


def screenshot(page, name, start=None):
    """A screenshot in test-output/, the window scrolled to ``start``."""
    if start:
        page.locator(start).first.evaluate("element => element.scrollIntoView()")
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=OUTPUT / name)
