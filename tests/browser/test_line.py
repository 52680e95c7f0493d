"""Linking LINE in a real phone browser, the LINE side played by the fake platform (tests/line_platform.py): the
member adds the official account, opens the link it replies with, logs in with their passkey, confirms, and
LINE's account-link dialog (the fake) sends the signed accountLink event to the webhook and the browser back.
Then a broadcast reaches them in LINE, and they unlink from the account page."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect

from app.services.notify import line_delivery, push_notifications
from tests.browser.conftest import add_virtual_authenticator, run_async
from tests.browser.test_membership import NO_AUTOFILL, log_out, register, tap_passkey_button

LINK = re.compile(r"https?://\S+linkToken=[A-Za-z0-9._~-]+")


def test_a_member_links_line_from_the_link_it_sends_and_unlinks_from_the_account_page(page, live_server, fake_line_platform):
    line = fake_line_platform
    page.add_init_script(NO_AUTOFILL)
    add_virtual_authenticator(page)
    register(page)
    page.goto("/account")
    card = page.get_by_test_id("line-card")
    expect(card.get_by_test_id("line-add-friend")).to_have_attribute("href", "https://line.me/R/ti/p/@tsunagu-test")
    expect(card.locator("svg.qr")).to_be_visible()
    log_out(page)

    # The member adds the official account in LINE; LINE tells the webhook, which replies with the link.
    user = line.user()
    body, headers = line.signed(line.follow(user))
    assert httpx.post(f"{live_server.url}/line/webhook", content=body, headers=headers, timeout=10).status_code == 200
    line.wait_for(lambda: user.replies)
    link = LINK.search(user.replies[0]).group(0)
    assert link.startswith(f"{live_server.url}/line/link?")

    # The link opens in the phone's browser: log in first, then back on the link's page.
    page.goto(link)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    tap_passkey_button(page, "[data-passkey-login]", "login-button")
    expect(page).to_have_url(re.compile(r"/line/link\?linkToken="))
    page.get_by_test_id("line-link-confirm").click()

    # LINE's dialog confirms, tells the webhook, and sends the browser back to the account page.
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.get_by_test_id("line-linked")).to_be_visible()
    line.wait_for(lambda: len(user.replies) == 2)

    run_async(push_notifications.create_notification(push_notifications.Target(), "雪まつりのお知らせ", "2月に開催します",
                                                     "/programs", None))
    run_async(push_notifications.fan_out_due())
    assert run_async(line_delivery.run_once(live_server.settings.line, live_server.url)).sent == 1
    assert user.messages == [f"雪まつりのお知らせ\n\n2月に開催します\n\n{live_server.url}/programs"]

    page.get_by_test_id("line-unlink").click()
    expect(page.get_by_test_id("line-add-friend")).to_be_visible()
    assert line.errors == []
