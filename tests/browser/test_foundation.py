"""The base in a real phone browser: Japanese first, English on request, installable, and usable offline."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import go_offline, go_online, wait_for_service_worker_control

ICON_SIZE = """async (src) => {
  const image = new Image();
  image.src = src;
  await image.decode();
  return [image.naturalWidth, image.naturalHeight];
}"""


def visit_under_service_worker(page, path: str = "/") -> None:
    """Opens `path` once the worker controls the page, so the worker has seen (and cached) it."""
    page.goto(path)
    wait_for_service_worker_control(page)
    page.goto(path)


def test_home_page_renders_in_japanese_on_a_phone(page):
    page.goto("/")

    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.get_by_test_id("hero")).to_be_visible()
    expect(page.get_by_role("heading", name="つながり方をえらぶ")).to_be_visible()
    expect(page.get_by_test_id("bottom-nav")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_header_button_switches_to_english_and_back(page):
    page.goto("/")

    page.get_by_test_id("lang-en").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Ways to connect")).to_be_visible()

    page.get_by_test_id("lang-ja").click()
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.get_by_role("heading", name="つながり方をえらぶ")).to_be_visible()


def test_manifest_is_linked_and_describes_an_installable_app(page):
    page.goto("/")
    href = page.locator('link[rel="manifest"]').get_attribute("href")
    response = page.request.get(href)
    assert response.ok
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = response.json()

    assert manifest["name"] and manifest["short_name"]
    assert manifest["lang"] == "ja"
    assert manifest["display"] == "standalone"
    assert page.request.get(manifest["start_url"]).ok
    icons = {(icon["sizes"], icon["purpose"]): icon["src"] for icon in manifest["icons"]}
    for sizes, purpose in [("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")]:
        width, height = page.evaluate(ICON_SIZE, icons[(sizes, purpose)])
        assert f"{width}x{height}" == sizes


def test_service_worker_registers_and_controls_the_page(page):
    page.goto("/")
    wait_for_service_worker_control(page)

    assert page.evaluate("navigator.serviceWorker.controller.scriptURL").endswith("/sw.js")
    cache_names = page.evaluate("caches.keys()")
    assert any(name.startswith("tsunagu-static-") for name in cache_names)


def test_offline_banner_shows_while_the_network_is_off(page, context):
    page.goto("/")
    banner = page.get_by_test_id("offline-banner")
    expect(banner).to_be_hidden()

    go_offline(context)
    expect(banner).to_be_visible()

    go_online(context)
    expect(banner).to_be_hidden()


def test_offline_a_visited_page_still_renders_and_an_unvisited_one_shows_the_offline_page(page, context):
    visit_under_service_worker(page, "/")
    go_offline(context)

    assert page.goto("/").from_service_worker
    expect(page.get_by_test_id("hero")).to_be_visible()
    expect(page.get_by_test_id("offline-banner")).to_be_visible()

    page.goto("/offline-test-unvisited")
    expect(page.get_by_test_id("offline-page")).to_be_visible()


def test_home_page_has_no_console_errors(page):
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto("/")
    wait_for_service_worker_control(page)

    assert errors == []


def test_unknown_url_shows_the_japanese_not_found_page(page):
    response = page.goto("/no-such-page")

    assert response.status == 404
    error_page = page.get_by_test_id("error-page")
    expect(error_page).to_have_attribute("data-status", "404")
    expect(error_page.get_by_role("heading")).to_have_text("ページが見つかりません")


def test_a_form_sent_after_the_session_cookies_are_lost_shows_the_403_page(page, context):
    page.goto("/")
    context.clear_cookies()

    page.get_by_test_id("lang-en").click()

    error_page = page.get_by_test_id("error-page")
    expect(error_page).to_have_attribute("data-status", "403")
    expect(error_page.get_by_role("heading")).to_have_text("フォームの有効期限が切れました")


def test_the_test_browser_runs_no_page_of_browser_chrome(browser, page):
    """HEADLESS_FLAGS switch off the omnibox popup that Chromium loads even headless, a renderer of its own for
    every profile: if a new Chromium renames the feature, this says so instead of the run growing slower."""
    page.goto("/")
    targets = browser.new_browser_cdp_session().send("Target.getTargets")["targetInfos"]

    assert [target["url"] for target in targets if target["type"] == "browser_ui"] == []
