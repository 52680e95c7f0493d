"""The secretariat's redemptions one by one: the period and the shop chosen, newest or oldest first, pages of 50
that keep the filters; anything typed in the address shows a page (a bad date next to its field)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from db.tables import Redemption
from tests import factories
from tests.conftest import log_in


async def used(count: int, shop_name: str, start: datetime, undone: bool = False) -> int:
    """A shop with one offer, used `count` times a minute apart from `start` by one member's pass."""
    shop_id, (offer_id,) = await factories.shop_with_offers(shop_name, {"title": f"{shop_name}の特典"})
    member = await factories.member(f"{shop_name}の客")
    wallet_pass_id, _code = await factories.wallet_pass(member.member_id, await factories.entry_pass(offer_id), start)
    for n in range(count):
        await Redemption(wallet_pass=wallet_pass_id, offer=offer_id, shop=shop_id, limit_key=f"{shop_id}:{n}",
                         client_nonce=f"{shop_id}-{n}", redeemed_at=start + timedelta(minutes=n),
                         undone_at=start + timedelta(minutes=n, seconds=30) if undone else None).save()
    return shop_id


def times(text: str) -> list[str]:
    return re.findall(r'<tr data-testid="redemption-row"[^>]*>\s*<td class="nowrap">([^<]+)<', text)


async def test_redemptions_go_page_by_page_keeping_the_period_shop_and_order(client, monkeypatch):
    monkeypatch.setattr("app.routes.wallet.redemptions.REDEMPTIONS_PAGE", 2)
    start = datetime(2026, 5, 11, 3, 0, tzinfo=timezone.utc)  # 12:00 in Tokyo
    bay = await used(3, "ベイサイド", start)
    await used(1, "港の食堂", start, undone=True)
    await log_in(client, await factories.staff_account())
    period = {"from": "2026-04-01", "to": "2027-03-31"}

    everything = await client.get("/staff/wallet/redemptions", params=period)
    assert everything.status_code == 200 and len(times(everything.text)) == 2
    assert 'data-testid="page-next"' in everything.text and 'data-testid="redemption-undone"' not in everything.text
    second = await client.get("/staff/wallet/redemptions", params={**period, "page": "2"})
    assert second.text.count('data-testid="redemption-undone"') == 1  # the undone one is listed, and marked

    at_bay = await client.get("/staff/wallet/redemptions", params={**period, "shop": str(bay), "order": "oldest"})
    assert times(at_bay.text) == sorted(times(at_bay.text))
    assert "港の食堂の特典" not in at_bay.text and "ベイサイドの特典" in at_bay.text
    next_page = f'href="/staff/wallet/redemptions?from=2026-04-01&amp;to=2027-03-31&amp;shop={bay}&amp;order=oldest&amp;page=2"'
    assert next_page in at_bay.text
    last = await client.get("/staff/wallet/redemptions", params={**period, "shop": str(bay), "order": "oldest", "page": "2"})
    assert len(times(last.text)) == 1 and 'data-testid="page-next"' not in last.text
    assert f'<option value="{bay}" selected>' in last.text and '<input type="hidden" name="order" value="oldest">' in last.text
    analysis = await client.get("/staff/wallet/analysis", params=period)
    assert 'href="/staff/wallet/redemptions?from=2026-04-01&amp;to=2027-03-31"' in analysis.text


async def test_anything_typed_in_the_address_shows_a_page(client):
    await used(1, "ベイサイド", datetime.now(timezone.utc) - timedelta(minutes=5))
    await log_in(client, await factories.staff_account())
    for params in ({"page": "0"}, {"page": "-1"}, {"page": "abc"}, {"page": "99999999999999999999"}, {"page": "9999"},
                   {"shop": "abc"}, {"shop": "-1"}, {"shop": "999999"}, {"order": "sideways"}, {"page": "１"}):
        response = await client.get("/staff/wallet/redemptions", params=params)
        assert response.status_code == 200, params
    assert len(times((await client.get("/staff/wallet/redemptions", params={"shop": "999999"})).text)) == 1  # all shops
    for params, field in (({"from": "yesterday"}, "from"), ({"from": "2026-05-02", "to": "2026-05-01"}, "to"),
                          ({"to": "0001-01-01"}, "to")):
        response = await client.get("/staff/wallet/redemptions", params=params)
        assert response.status_code == 422 and f'data-testid="error-{field}"' in response.text, params
        assert 'data-testid="redemption-rows"' not in response.text


async def test_a_member_or_a_shop_cannot_see_the_redemptions(client):
    member = await factories.member()
    await log_in(client, member.account_id)
    assert (await client.get("/staff/wallet/redemptions")).status_code == 403
    shop_staff = await factories.staff_account("店 スタッフ", role="shop", shop=await factories.shop())
    await log_in(client, shop_staff)
    assert (await client.get("/staff/wallet/redemptions")).status_code == 403
