"""The counter's case table (tests/cases/counter_rules.json) against the server's rules: every case is built as
rows (a shop, its offer, a pass, a member's copy in the given state), its earlier uses are made through
redemption.redeem() (and undo()) at their own times, then the scan of the case is redeemed at the case's time.
The device's rules meet the same table in tests/browser/test_counter.py."""

from __future__ import annotations

import secrets
from datetime import date, timedelta

import pytest

from app.keyfile import new_signing_key
from app.services.shared.signed_tokens import TokenSigner
from app.services.wallet import redemption
from app.services.wallet.redemption import Refused
from db.tables import WalletPass
from tests import factories
from tests.cases.counter_rules import case_id, code_for, load_cases

CASES = load_cases()


async def answer_of(case: dict) -> dict:
    signer = TokenSigner(new_signing_key())
    offer = {key: case["offer"][key] for key in ("limit_kind", "limit_count", "active", "premium_only")}
    for key in ("valid_from", "valid_to"):
        offer[key] = date.fromisoformat(case["offer"][key]) if case["offer"][key] else None
    shop, (offer_id,) = await factories.shop_with_offers("海鮮食堂 ほっき屋", {"title": "case offer", **offer})
    if case["offer"]["shop"] == "other":
        _other, (offer_id,) = await factories.shop_with_offers("とまこまいレンタカー", {"title": "case offer", **offer})
    pass_id = await factories.entry_pass(offer_id, requires_stay=case["stay"] is not None)
    member = await factories.member("旅する花子", home_prefecture="13", home_municipality="世田谷区")
    stay = dict(stay_from=case["stay"][0], stay_to=case["stay"][1]) if case["stay"] else {}
    wallet_pass, short_code = await factories.wallet_pass(
        member.member_id, pass_id, case["expires"] - timedelta(days=30), expires_at=case["expires"], **stay
    )
    staff = await factories.staff_account("店員 田中", role="shop", shop=shop)
    code = code_for(case, signer, wallet_pass, short_code)
    for use in case["earlier_uses"]:
        token = signer.sign("wallet", wallet_pass, case["expires"])
        done = await redemption.redeem(signer, token, offer_id, shop, staff, secrets.token_urlsafe(12), use["at"])
        if use["undone"]:
            assert await redemption.undo(done.redemption_id, shop, staff, use["at"] + timedelta(minutes=1))
    if case["pass"] != "active":
        await WalletPass.update({WalletPass.status: case["pass"]}).where(WalletPass.id == wallet_pass)
    try:
        await redemption.redeem(signer, code, offer_id, shop, staff, secrets.token_urlsafe(12), case["now"])
    except Refused as refused:
        return {"decision": "refused", "reason": refused.reason}
    return {"decision": "ok", "reason": ""}


@pytest.mark.parametrize("case", CASES, ids=[case_id(case) for case in CASES])
async def test_the_server_decides_each_case_of_the_counter_table(case):
    assert await answer_of(case) == {"decision": case["decision"], "reason": case.get("reason", "")}


def test_the_table_covers_every_refusal_the_device_can_decide():
    reasons = {case.get("reason") for case in CASES if "device" not in case}
    assert {"forged", "damaged", "wrong_kind", "expired", "suspended", "revoked", "before_stay", "after_stay",
            "wrong_shop", "offer_unavailable", "already_used", "already_used_today"} <= reasons
