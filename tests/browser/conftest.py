"""Browser tests: Debian's Chromium, driven by Playwright, against the app served by gunicorn.

They need /usr/bin/chromium (or CHROMIUM_PATH). Without it they are skipped with a message saying
how to install it; CI installs it, so there they always run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.app_server import AppServer, database_url

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# As root on a machine without a network, Chromium needs no sandbox and must not try to reach
# Google's update and sync services at every start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / "var"))
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def pytest_collection_modifyitems(config, items):
    if shutil.which(CHROMIUM):
        return
    if os.environ.get("REQUIRE_BROWSER_TESTS"):
        raise pytest.UsageError(f"REQUIRE_BROWSER_TESTS is set but there is no {CHROMIUM}.")
    skip = pytest.mark.skip(
        reason=f"Browser tests skipped: no Chromium at {CHROMIUM}. Install it with "
        "`apt-get install chromium chromium-driver` (or set CHROMIUM_PATH)."
    )
    here = Path(__file__).parent
    for item in items:
        if Path(item.fspath).is_relative_to(here):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def app_server(django_db_setup, django_db_blocker):
    from django.db import connection

    with django_db_blocker.unblock():
        server = AppServer(database=database_url(connection.settings_dict))
    server.start()
    yield server
    server.stop()


# Per module, so the browser's event loop has stopped before the rest of the suite runs.
@pytest.fixture(scope="module")
def chromium(django_db_setup):
    """Playwright's synchronous API keeps an event loop running in this thread while the
    browser is open, and Django then refuses ORM calls. The tests' own ORM calls are plain
    synchronous code, so the guard does not apply; it is switched off only while the browser is
    open (`check --deploy` rightly refuses it anywhere else)."""
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # With a loop running, Django's per-thread connections become per-context: the tests get a
    # new connection object, without the migrations' rows that the test database setup saved
    # for restoring them after each test that empties the tables. Hand those rows over.
    saved = getattr(connections["default"], "_test_serialized_contents", None)
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        if saved is not None:
            connections["default"]._test_serialized_contents = saved
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def _page(chromium, app_server, viewport):
    # Reduced motion: Bootstrap then opens the phone menu without its collapse animation, so
    # a click is never aimed at a button that is still sliding into place.
    context = chromium.new_context(
        base_url=app_server.url,
        viewport=viewport,
        accept_downloads=True,
        locale="en-GB",
        reduced_motion="reduce",
    )
    # Generous: a 2-core machine running the suite can take seconds over one page.
    context.set_default_timeout(30_000)
    page = context.new_page()
    return context, page


@pytest.fixture
def desktop_page(app_server, chromium):
    context, page = _page(chromium, app_server, DESKTOP)
    yield page
    context.close()


@pytest.fixture
def phone_page(app_server, chromium):
    context, page = _page(chromium, app_server, PHONE)
    yield page
    context.close()


@pytest.fixture
def screenshot():
    """Save a full-page screenshot under var/screenshots/ (docs/screenshots/ holds copies)."""
    folder = SCREENSHOTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)

    def save(page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save
