"""Real-browser fixtures: the app served at http://localhost:PORT, a headless Chromium on a phone viewport,
and the helpers later tests need (virtual passkey authenticator, offline mode, notifications, service worker).

Browser tests run once, on SQLite: with TSUNAGU_TEST_DB=postgres they are skipped.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Coroutine, Iterator, TypeVar

import pytest
import uvicorn
from litestar import Litestar
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from app.auth import AUTH_COOKIE
from app.main import create_app
from app.services.shared.pdf import HEADLESS_FLAGS
from app.settings import Settings
from tests.conftest import USE_POSTGRES, make_settings, reset_database
from tests.line_platform import FakeLinePlatform
from tests.push_service import FakePushService

BROWSER_TESTS = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [*HEADLESS_FLAGS, "--disable-quic"]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "ja-JP",
}
START_TIMEOUT_S = 15
STOP_TIMEOUT_S = 10
ACTION_TIMEOUT_MS = 10_000
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "ja-JP"}
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


@pytest.hookimpl(tryfirst=True)  # before `-m "not browser"` deselects by the mark added here
def pytest_collection_modifyitems(config, items):
    """Marks the browser tests (skipped on PostgreSQL) and runs them last: once Playwright's sync API has
    started, this thread counts as running its event loop, which asyncio.run() and async tests refuse."""
    skip_on_postgres = pytest.mark.skip(reason="browser tests run once, on SQLite")
    browser_tests = [item for item in items if BROWSER_TESTS in item.path.parents]
    for item in browser_tests:
        item.add_marker(pytest.mark.browser)
        if USE_POSTGRES:
            item.add_marker(skip_on_postgres)
    in_browser = set(browser_tests)
    items[:] = [item for item in items if item not in in_browser] + browser_tests


T = TypeVar("T")


def run_async(coro: Coroutine[Any, Any, T], timeout_s: float = 30) -> T:
    """Runs `coro` to completion from a sync browser test, on a thread of its own: Playwright's sync API
    makes this thread look as if it ran an event loop, which asyncio.run() refuses."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=timeout_s)


@pytest.fixture(autouse=True)
def clean_database(database_url, request):
    """As in tests/conftest.py, but through run_async(), for the reason given above. The live server's kept
    public pages go too: the emptied tables give the next test's rows the same ids again."""
    run_async(reset_database())
    if "live_server" in request.fixturenames:
        request.getfixturevalue("live_server").app.state.page_cache.clear()
    yield


# --- the live server -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveServer:
    url: str
    settings: Settings
    app: Litestar


def bind_loopback(family: socket.AddressFamily, host: str, port: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def loopback_sockets(attempts: int = 20) -> list[socket.socket]:
    """A free port bound on 127.0.0.1 and, where the machine has IPv6, on ::1 too."""
    for _ in range(attempts):
        v4 = bind_loopback(socket.AF_INET, "127.0.0.1", 0)
        try:
            v6 = bind_loopback(socket.AF_INET6, "::1", v4.getsockname()[1])
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return [v4]  # no IPv6 loopback on this machine
            v4.close()  # the port is taken on ::1 only: try another one
            continue
        return [v4, v6]
    raise RuntimeError(f"no port free on both loopback addresses after {attempts} attempts")


def wait_until_healthy(port: int, thread: threading.Thread, timeout_s: float = START_TIMEOUT_S) -> None:
    """Polls /healthz until it answers 200; fails early if the server thread died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the live server stopped while starting; see the log above")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the live server did not answer /healthz within {timeout_s} s")


@pytest.fixture(scope="session")
def fake_push_service():
    """The strict fake push service (tests/push_service.py) on loopback, for the whole run: the live server
    lists its origin in push_extra_hosts (PUSH_EXTRA_HOSTS), as the app calls nothing on loopback otherwise."""
    with FakePushService() as service:
        yield service


@pytest.fixture(scope="session")
def fake_line_platform():
    """The fake LINE platform (tests/line_platform.py) on loopback, for the whole run: the live server's LINE
    official account, whose account-link dialog posts to the live server's webhook."""
    with FakeLinePlatform() as platform:
        yield platform


@pytest.fixture(scope="session")
def live_server(secrets, database_url, tmp_path_factory, fake_push_service, fake_line_platform):
    """The app served by uvicorn in a thread, reached as http://localhost:PORT (WebAuthn refuses IP addresses)."""
    sockets = loopback_sockets()
    port = sockets[0].getsockname()[1]
    url = f"http://localhost:{port}"
    line = fake_line_platform
    line.webhook_url, line.return_url = f"{url}/line/webhook", f"{url}/account"
    # One browser run logs in far more often than a person would: the per-address limit must not trip.
    settings = make_settings(secrets, tmp_path_factory.mktemp("live-var"), database_url, base_url=url).with_(
        auth_rate_limit_per_minute=1000, push_extra_hosts=(fake_push_service.origin,),
        line=line.settings(add_friend_url="https://line.me/R/ti/p/@tsunagu-test"),
    )
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": sockets}, name="live-server", daemon=True)
    thread.start()
    try:
        wait_until_healthy(port, thread)
        yield LiveServer(url=url, settings=settings, app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=STOP_TIMEOUT_S)
        for sock in sockets:
            sock.close()


# --- the browser -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """Debian's Chromium, headless, with a throwaway HOME (Playwright's own browser download is not used)."""
    home = tmp_path_factory.mktemp("chromium-home")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, env={**os.environ, "HOME": str(home)}
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def camera_clip(tmp_path_factory) -> Path:
    """The video that `camera_browser` plays as its camera: write a .y4m here before starting the camera."""
    return tmp_path_factory.mktemp("camera") / "camera.y4m"


@pytest.fixture(scope="session")
def camera_browser(browser, camera_clip, tmp_path_factory):
    """A second Chromium whose camera plays `camera_clip` and whose camera prompts are accepted (a shop's
    scanner). Chromium opens the file each time a page starts the camera, so tests may rewrite it."""
    home = tmp_path_factory.mktemp("chromium-camera-home")
    camera_args = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={camera_clip}",
    ]
    camera_browser = browser.browser_type.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS + camera_args, env={**os.environ, "HOME": str(home)}
    )
    yield camera_browser
    camera_browser.close()


@pytest.fixture
def context(browser, live_server):
    """A fresh phone-sized, Japanese-speaking browser profile pointed at the live server."""
    context = browser.new_context(base_url=live_server.url, **PHONE)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def page(context) -> Page:
    """A tab in `context`."""
    return context.new_page()


def profiles(browser: Browser, live_server: LiveServer, camera: bool = False) -> Iterator[Callable[..., Page]]:
    """Yields open_as(session=None, device=PHONE): a browser profile of its own for one person, logged in with
    `session` if given, its camera allowed without a prompt if `camera`; closes them all afterwards."""
    contexts: list[BrowserContext] = []

    def open_as(session: str | None = None, device: dict = PHONE) -> Page:
        context = browser.new_context(base_url=live_server.url, **device)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        contexts.append(context)
        if camera:
            context.grant_permissions(["camera"], origin=live_server.url)
        if session:
            context.add_cookies([{"name": AUTH_COOKIE, "value": session, "url": live_server.url}])
        return context.new_page()

    yield open_as
    for context in contexts:
        context.close()


@pytest.fixture
def open_browser(browser, live_server):
    """Opens a browser profile of its own for one person, logged in with `session` if given; closes them all."""
    yield from profiles(browser, live_server)


@pytest.fixture
def open_camera_phone(camera_browser, live_server):
    """As `open_browser`, in `camera_browser`: a phone whose camera plays `camera_clip` (a member at an
    activity's venue, a shop's counter)."""
    yield from profiles(camera_browser, live_server, camera=True)


# --- helpers ---------------------------------------------------------------------------------------


def add_virtual_authenticator(page: Page, transport: str = "internal") -> tuple[CDPSession, str]:
    """Adds a passkey authenticator (CTAP2, resident keys, user verified) to `page`; returns (cdp, id).

    The default is the phone's own (platform) authenticator; Chrome allows one "internal" authenticator per
    page, so a second device is another transport ("usb" for a security key, "hybrid" for another phone)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    result = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": transport,
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, result["authenticatorId"]


def go_offline(context: BrowserContext) -> None:
    """Cuts the network for every page (and service worker) of `context`."""
    context.set_offline(True)


def go_online(context: BrowserContext) -> None:
    """Gives `context` its network back."""
    context.set_offline(False)


def grant_notifications(context: BrowserContext, origin: str) -> None:
    """Lets `origin` show notifications without a permission prompt."""
    context.grant_permissions(["notifications"], origin=origin)


def wait_for_service_worker_control(page: Page, timeout_ms: int = ACTION_TIMEOUT_MS) -> None:
    """Waits until the service worker controls `page`, reloading once if clients.claim() has not reached it."""
    controlled = "() => navigator.serviceWorker.controller !== null"
    try:
        page.wait_for_function(controlled, timeout=timeout_ms / 2)
    except PlaywrightTimeoutError:
        page.reload()
        page.wait_for_function(controlled, timeout=timeout_ms / 2)


def click_and_settle(page: Page, locator) -> None:
    """Click a boosted link and wait until htmx has settled the new page: right after the swap its forms are
    not yet wired, and a select changed then (on a busy machine) does nothing."""
    page.evaluate("() => { window.__tsunaguSettled = new Promise(resolve => "
                  "document.addEventListener('htmx:afterSettle', () => resolve(true), {once: true})); }")
    locator.click()
    page.wait_for_function("() => window.__tsunaguSettled", timeout=ACTION_TIMEOUT_MS)
