"""The welcome page a new member lands on: their number, and the next steps, each marked once done."""

from datetime import timedelta

from app.services.notify import push_subscriptions
from app.services.shared import clock
from tests import factories
from tests.conftest import log_in
from tests.routes.notify.test_push_pages import device


async def test_a_new_member_sees_the_next_steps_and_each_is_marked_once_done(client):
    registered = await factories.member("つなぐ花子")
    await log_in(client, registered.account_id)
    page = (await client.get("/welcome")).text
    for step, link in (("step-pass", 'href="/passes"'), ("step-notifications", 'href="/account/notifications"')):
        item = page.split(f'data-testid="{step}"')[1].split("</li>")[0]
        assert link in item and "済み" not in item, step
    assert '<div data-install-iphone hidden' in page  # shown by the page's script on an iPhone

    sub = device()
    await push_subscriptions.subscribe(registered.account_id, sub["endpoint"], sub["keys"]["p256dh"], sub["keys"]["auth"],
                                       "iPhone")
    await factories.wallet_pass(registered.member_id, await factories.entry_pass(), clock.now() - timedelta(days=1))
    page = (await client.get("/welcome")).text
    for step in ("step-pass", "step-notifications"):
        item = page.split(f'data-testid="{step}"')[1].split("</li>")[0]
        assert item.startswith(' class="done"') and "済み" in item, step


async def test_the_welcome_page_sends_visitors_and_staff_home(client, scene):
    assert (await client.get("/welcome", follow_redirects=False)).headers["location"] == "/"
    await log_in(client, scene.staff.account_id)
    assert (await client.get("/welcome", follow_redirects=False)).headers["location"] == "/"
