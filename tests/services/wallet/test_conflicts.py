"""Uses a counter allowed offline, arriving later: counted as at the time of the scan, once however often they are
sent, or kept as a conflict that names the use that kept the limit; staff review conflicts, audited."""

from __future__ import annotations

import secrets
from datetime import date, timedelta

import pytest

from app.keyfile import new_signing_key
from app.services.shared.signed_tokens import TokenSigner
from app.services.wallet import analysis as wallet_analysis
from app.services.wallet import conflicts
from app.services.wallet.analysis import Period
from app.services.wallet.redemption import Refused
from db.tables import AuditLog, Conflict, Redemption, WalletPass
from tests.services.wallet.redemption_scene import NOW, Scene, stay_wallet

LATER = NOW + timedelta(hours=2)


async def arrive(scene: Scene, offer: int, *, scanned_at=NOW, now=LATER, account: int | None = None,
                 nonce: str | None = None, code: str | None = None) -> conflicts.Arrived:
    return await conflicts.arrive(scene.signer, scene.token if code is None else code, offer, scene.shop,
                                  scene.staff if account is None else account,
                                  nonce or secrets.token_urlsafe(12), scanned_at, now)


async def test_a_use_made_offline_is_counted_at_the_time_of_its_scan_and_marked_offline(scene):
    arrived = await arrive(scene, scene.once, scanned_at=NOW, now=LATER)
    assert (arrived.status, arrived.redeemed.offer_title) == ("recorded", "ほっきカレー 大盛り無料")
    rows = await Redemption.select(Redemption.redeemed_at, Redemption.offline)
    assert rows == [{"redeemed_at": NOW, "offline": True}]


async def test_the_same_use_sent_twice_is_counted_once(scene):
    first = await arrive(scene, scene.once, nonce="n-1")
    again = await arrive(scene, scene.once, nonce="n-1")
    assert (first.status, again.status) == ("recorded", "already")
    assert await Redemption.count() == 1
    assert await Conflict.count() == 0


async def test_two_counters_giving_a_once_only_offer_offline_make_one_use_and_one_conflict(scene):
    first = await arrive(scene, scene.once, account=scene.staff, scanned_at=NOW, nonce="tablet-a")
    second = await arrive(scene, scene.once, account=scene.colleague, scanned_at=NOW + timedelta(minutes=5),
                          nonce="tablet-b")
    resent = await arrive(scene, scene.once, account=scene.colleague, nonce="tablet-b")
    assert (first.status, second.status, second.reason) == ("recorded", "conflict", "already_used")
    assert (resent.status, resent.reason) == ("conflict", "already_used")
    kept = (await Redemption.select(Redemption.id).first())["id"]
    rows = await Conflict.select()
    assert len(rows) == 1
    assert rows[0]["kept_redemption"] == kept and rows[0]["wallet_pass"] == scene.wallet_pass
    assert rows[0]["scanned_at"] == NOW + timedelta(minutes=5) and rows[0]["received_at"] == LATER
    assert rows[0]["home_prefecture"] == "13" and rows[0]["offer"] == scene.once


async def test_a_use_online_first_makes_the_later_offline_one_a_conflict(scene):
    online = await scene.redeem(scene.once, now=NOW + timedelta(minutes=1))
    arrived = await arrive(scene, scene.once, scanned_at=NOW, account=scene.colleague)
    assert arrived.status == "conflict"
    assert (await Conflict.select(Conflict.kept_redemption).first())["kept_redemption"] == online.redemption_id


async def test_a_per_day_offer_used_yesterday_offline_counts_for_yesterday(scene):
    for _ in range(3):
        await scene.redeem(scene.daily)  # today's three are used
    arrived = await arrive(scene, scene.daily, scanned_at=NOW - timedelta(days=1), now=NOW)
    assert arrived.status == "recorded"
    assert await Redemption.count() == 4


async def test_a_stay_that_ended_after_the_scan_is_judged_on_the_day_of_the_scan(scene):
    token = await stay_wallet(scene, date(2026, 8, 8), date(2026, 8, 10))
    arrived = await arrive(scene, scene.unlimited, code=token, scanned_at=NOW, now=NOW + timedelta(days=2))
    assert arrived.status == "recorded"


async def test_a_pass_stopped_after_the_counter_fetched_its_bundle_is_a_conflict_not_a_drop(scene):
    await WalletPass.update({WalletPass.status: "revoked"}).where(WalletPass.id == scene.wallet_pass)
    arrived = await arrive(scene, scene.once)
    assert (arrived.status, arrived.reason) == ("conflict", "revoked")
    row = await Conflict.select().first()
    assert row["kept_redemption"] is None and row["wallet_pass"] == scene.wallet_pass
    assert await Redemption.count() == 0


async def test_a_code_the_server_cannot_read_is_kept_as_a_conflict_without_a_pass(scene):
    other = TokenSigner(new_signing_key())
    arrived = await arrive(scene, scene.once, code=other.sign("wallet", scene.wallet_pass, NOW + timedelta(days=1)))
    assert (arrived.status, arrived.reason) == ("conflict", "forged")
    row = await Conflict.select().first()
    assert row["wallet_pass"] is None and row["offer"] == scene.once and row["shop"] == scene.shop


async def test_a_use_for_an_offer_that_no_longer_exists_is_a_conflict_without_an_offer(scene):
    arrived = await arrive(scene, 987654)
    assert arrived.status == "conflict"
    assert (await Conflict.select(Conflict.offer).first())["offer"] is None


async def test_a_scan_time_in_the_future_is_taken_as_now(scene):
    await arrive(scene, scene.once, scanned_at=LATER + timedelta(days=3), now=LATER)
    assert (await Redemption.select(Redemption.redeemed_at).first())["redeemed_at"] == LATER


@pytest.mark.parametrize("nonce", ["x" * 65, "tab\there"])
async def test_a_nonce_no_counter_writes_is_refused_and_nothing_is_kept(scene, nonce):
    with pytest.raises(Refused) as refused:
        await arrive(scene, scene.once, nonce=nonce)
    assert refused.value.reason == "damaged"
    assert await Redemption.count() == 0 and await Conflict.count() == 0


async def test_a_shop_account_without_a_shop_is_refused(scene):
    with pytest.raises(Refused) as refused:
        await conflicts.arrive(scene.signer, scene.token, scene.once, None, scene.staff, "n", NOW, LATER)
    assert refused.value.reason == "wrong_shop"


async def test_staff_see_open_conflicts_oldest_first_and_review_them_once_audited(scene):
    await arrive(scene, scene.once, account=scene.staff, nonce="a")
    await arrive(scene, scene.once, account=scene.colleague, nonce="b", scanned_at=NOW + timedelta(minutes=9))
    await arrive(scene, scene.once, account=scene.colleague, nonce="c", scanned_at=NOW + timedelta(minutes=3))
    open_rows = await conflicts.conflicts("open", 10)
    assert [r["scanned_at"] for r in open_rows] == [NOW + timedelta(minutes=3), NOW + timedelta(minutes=9)]
    assert open_rows[0]["display_name"] == "旅する花子" and open_rows[0]["kept_shop"] == "海鮮食堂 ほっき屋"
    assert open_rows[0]["kept_offline"] is True
    assert await conflicts.open_count() == 2
    assert await conflicts.review(open_rows[0]["id"], scene.staff, LATER) is True
    assert await conflicts.review(open_rows[0]["id"], scene.staff, LATER) is False
    assert await conflicts.review(-1, scene.staff, LATER) is False
    assert await conflicts.open_count() == 1
    reviewed = await conflicts.conflicts("reviewed", 10)
    assert [r["id"] for r in reviewed] == [open_rows[0]["id"]] and reviewed[0]["reviewed_by_name"] == "店員 田中"
    audit = await AuditLog.select(AuditLog.action, AuditLog.target_id).where(AuditLog.action == "conflict.review")
    assert audit == [{"action": "conflict.review", "target_id": str(open_rows[0]["id"])}]


async def test_the_usage_analysis_counts_offline_uses_and_conflicts_per_shop(scene):
    await arrive(scene, scene.once, nonce="a")
    await arrive(scene, scene.once, account=scene.colleague, nonce="b")
    await scene.redeem(scene.unlimited)
    figures = await wallet_analysis.analyse(Period(date(2026, 4, 1), date(2027, 3, 31)))
    assert (figures.total, figures.offline, figures.conflicts) == (2, 1, 1)
    shop = [s for s in figures.by_shop if s["id"] == scene.shop][0]
    assert (shop["count"], shop["offline"], shop["conflicts"]) == (2, 1, 1)
    assert wallet_analysis.build_table(figures, "shops").rows[0][2:] == [2, 1, 1]
