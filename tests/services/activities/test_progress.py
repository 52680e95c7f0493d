"""A member's activities toward premium: this fiscal year, the last twelve months, and earlier fiscal years;
and what the check-in page is given to decide a code on the phone."""

from __future__ import annotations

import base64
import secrets
from datetime import date, datetime

from cryptography.hazmat.primitives.asymmetric import ed25519

from app.i18n import TOKYO
from app.keyfile import new_signing_key
from app.services.activities import check_ins, progress
from app.services.shared.signed_tokens import TokenSigner
from db.tables import Application
from tests import factories

NOW = datetime(2026, 11, 14, 10, 30, tzinfo=TOKYO)  # fiscal year 2026


async def attended(area: int, member_id: int, when: datetime, title: str) -> int:
    program = await factories.program(area, title=title, starts_at=when, ends_at=when)
    application = await factories.attendance(program, member_id)
    await Application.update({Application.attended_at: when}).where(Application.id == application)
    return program


async def test_earlier_fiscal_years_hold_what_came_before_april_newest_first(scene):
    member = await factories.member()
    signer = TokenSigner(new_signing_key())
    await attended(scene.area, member.member_id, datetime(2025, 3, 31, 20, 0, tzinfo=TOKYO), "三月の浜掃除")  # FY2024
    await attended(scene.area, member.member_id, datetime(2025, 4, 1, 9, 0, tzinfo=TOKYO), "四月の植樹")  # FY2025
    activity = await factories.activity(scene.area, starts_on=date(2026, 1, 10), ends_on=date(2026, 11, 30))
    await check_ins.with_code(signer, check_ins.code_for(signer, activity, date(2026, 1, 10)), member.member_id,
                              secrets.token_urlsafe(12), None, datetime(2026, 1, 10, 10, 0, tzinfo=TOKYO))  # FY2025
    await check_ins.with_code(signer, check_ins.code_for(signer, activity, NOW.date()), member.member_id,
                              secrets.token_urlsafe(12), None, NOW)  # FY2026: this year's, not an earlier one

    earlier = await progress.earlier_years(member.member_id, NOW)

    assert [(year["year"], [item["title"] for item in year["items"]]) for year in earlier] == [
        (2025, ["四月の植樹", "樽前山の登山道整備"]), (2024, ["三月の浜掃除"])]
    now = await progress.progress(member.member_id, NOW)
    # January's and November's days are one activity: once in the last twelve months
    assert (now.this_fiscal_year, now.last_twelve_months, now.may_apply) == (1, 1, False)


async def test_a_member_with_no_activities_has_no_earlier_years(scene):
    member = await factories.member()
    assert await progress.earlier_years(member.member_id, NOW) == []


def test_the_phone_is_given_the_public_key_that_verifies_the_days_code():
    signer = TokenSigner(new_signing_key())
    rules = check_ins.phone_rules(signer)
    assert (rules["version"], rules["kind"]) == (1, 3)
    assert rules["valid_ms"] == 24 * 3600 * 1000 and rules["skew_ms"] == 10 * 60 * 1000
    (key_id, key), = rules["keys"].items()
    assert int(key_id) == signer.key_id
    code = check_ins.code_for(signer, 42, NOW.date())
    raw = base64.b32decode(code + "=" * (-len(code) % 8))
    public = ed25519.Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(key + "="))
    public.verify(raw[-64:], raw[:-64])  # raises if the key were not the signer's
    assert set(rules["messages"]) == set(check_ins.PHONE_REFUSALS) and all(rules["messages"].values())
