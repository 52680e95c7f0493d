"""A member's own pages kept by the front layer (app/page_cache.py, db/page_versions.py): served again to that login
only, and only while nothing they show has changed, whoever changed it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest

from app.services.membership import login_sessions
from app.services.shared import clock
from app.services.wallet import redemption
from db import page_versions
from db.tables import Account, Notice, PortalBlock, Program
from tests import factories
from tests.conftest import BASE_URL, Client, log_in

MEMBER_PAGES = ("/card", "/wallet", "/account", "/programs/mine", "/inbox")


def kept_pages(app) -> list[str]:
    """Every address whose handler lets the front layer keep a member's page: a page opted in later is checked too."""
    return sorted({route.path for route in app.routes for handler in getattr(route, "route_handlers", ())
                   if handler.opt.get("member_page")})


@dataclass
class Member:
    account_id: int
    member_id: int
    wallet_pass_id: int
    shop_id: int
    offer_id: int
    clerk: int
    program_id: int
    token: str


@pytest.fixture
async def member(client) -> Member:
    hanako = await factories.member("つなぐ花子")
    shop_id, (offer_id,) = await factories.shop_with_offers("海鮮食堂 ほっき屋", {"title": "ほっき丼 100円引き", "limit_kind": "unlimited"})
    pass_id = await factories.entry_pass(offer_id)
    wallet_pass_id, _code = await factories.wallet_pass(hanako.member_id, pass_id, clock.now() - timedelta(hours=1))
    clerk = await factories.staff_account("店員 田中", role="shop", shop=shop_id)
    program_id = await factories.program(await factories.area())
    from db.tables import Application

    await Application.insert(Application(program=program_id, member=hanako.member_id, status="accepted"))
    token = await log_in(client, hanako.account_id)
    return Member(hanako.account_id, hanako.member_id, wallet_pass_id, shop_id, offer_id, clerk, program_id, token)


async def test_each_member_page_is_served_again_as_rendered_while_nothing_changed(app, client, member):
    kept = app.state.member_page_cache
    for path in kept_pages(app):
        first = await client.get(path)
        served = kept.served
        again = await client.get(path)
        assert first.status_code == again.status_code == 200, path
        assert kept.served == served + 1, path
        assert again.text == first.text, path


async def test_a_use_at_the_shop_shows_on_the_kept_wallet_at_once(app, client, member):
    assert 'data-state="unlimited"' in (await client.get("/wallet")).text
    signer = app.state.signer
    code = signer.sign("wallet", member.wallet_pass_id, clock.now() + timedelta(days=1))
    await redemption.redeem(signer, code, member.offer_id, member.shop_id, member.clerk, "nonce-at-the-counter", clock.now())
    served = app.state.member_page_cache.served
    wallet = await client.get("/wallet")
    assert app.state.member_page_cache.served == served
    assert 'data-testid="history-row"' in wallet.text


async def test_staff_changing_a_program_shows_on_the_kept_applications_at_once(client, member):
    assert "ほっき貝の浜で漁業体験" in (await client.get("/programs/mine")).text
    await Program.update({Program.title: "樽前山の森で間伐体験"}).where(Program.id == member.program_id)
    assert "樽前山の森で間伐体験" in (await client.get("/programs/mine")).text


async def test_an_edit_of_the_portal_by_another_process_shows_on_the_kept_home_page_at_once(app, client, member):
    """This process's copy of the portal is younger than its ten seconds, and only the process that made an edit
    clears its own: the member's home is drawn again with the portal read anew."""
    await PortalBlock.insert(PortalBlock(kind="hero", key="hero", title="海と森のまち", body="本文"))
    assert "海と森のまち" in (await client.get("/")).text
    served = app.state.member_page_cache.served
    assert "海と森のまち" in (await client.get("/")).text and app.state.member_page_cache.served == served + 1
    await PortalBlock.update({PortalBlock.title: "港と湿原のまち"}).where(PortalBlock.key == "hero")
    assert "港と湿原のまち" in (await client.get("/")).text


async def test_a_new_notice_shows_in_the_kept_inbox_and_its_count_on_every_kept_page(client, member):
    await client.get("/inbox")
    await client.get("/card")
    await Notice.insert(Notice(account=member.account_id, title="抽選の結果", body="当選しました"))
    assert "抽選の結果" in (await client.get("/inbox")).text
    assert re.search(r'data-testid="unread-count">.*?</span>1</span>', (await client.get("/card")).text)


async def test_another_login_never_gets_the_page_kept_for_this_one(app, client, member):
    await client.get("/card")
    taro = await factories.member("苫小牧太郎")
    async with Client(app=app, base_url=BASE_URL) as other:
        await log_in(other, taro.account_id)
        card = await other.get("/card")
        assert "苫小牧太郎" in card.text and "つなぐ花子" not in card.text
        await log_in(other, member.account_id)  # the same member on a second phone: a page of its own
        served = app.state.member_page_cache.served
        assert "つなぐ花子" in (await other.get("/card")).text
        assert app.state.member_page_cache.served == served


async def test_after_logout_or_with_the_account_closed_the_kept_page_is_not_served(app, client, member):
    await client.get("/card")
    await login_sessions.end(member.token)
    response = await client.get("/card", follow_redirects=False)
    assert response.status_code in (302, 303) and "/login" in response.headers["location"]
    await log_in(client, member.account_id)
    await client.get("/card")
    await Account.update({Account.status: "deleted"}).where(Account.id == member.account_id)
    assert (await client.get("/card", follow_redirects=False)).status_code in (302, 303)


async def test_a_message_waiting_in_the_session_is_shown_on_a_fresh_page(app, client, member):
    await client.get("/wallet")
    served = app.state.member_page_cache.served
    client.cookies.set("tsunagu_session", "a-session-with-a-message")
    assert (await client.get("/wallet")).status_code == 200
    assert app.state.member_page_cache.served == served


async def test_the_kept_page_carries_this_browsers_csrf_token_and_its_forms_work(app, client, member):
    await client.get("/inbox")
    page = await client.get("/inbox")
    token = re.search(r'<meta name="csrf-token" content="([^"]*)"', page.text).group(1)
    assert client.cookies.get("tsunagu_csrf") == token
    assert (await client.submit("/inbox/read", follow_redirects=False)).status_code == 303


async def test_no_member_page_is_kept_when_turned_off(app, client, member):
    app.state.member_page_cache.ttl_s = 0
    await client.get("/card")
    assert len(app.state.member_page_cache) == 0


async def test_a_kept_page_reads_no_table_whose_changes_move_no_version(app, client, member):
    """The contract behind serving a kept page: every table a member page reads is one whose writes move a page
    version (db/page_versions.py). Recorded at the database engine, for each page rendered afresh."""
    engine = Account._meta.db
    read: set[str] = set()
    run = engine.run_querystring

    async def recording(querystring, *args, **kwargs):
        read.update(re.findall(r'\b(?:FROM|JOIN)\s+"?([a-z_]+)"?', str(querystring), flags=re.IGNORECASE))
        return await run(querystring, *args, **kwargs)

    assert set(kept_pages(app)) >= set(MEMBER_PAGES)
    engine.run_querystring = recording
    try:
        for path in kept_pages(app):
            assert (await client.get(path)).status_code == 200
    finally:
        del engine.run_querystring
    read &= page_versions.classified() | {page_versions.TABLE}
    assert read, "nothing recorded"
    assert not read & page_versions.UNSEEN, sorted(read & page_versions.UNSEEN)
