"""The member card's code: the same all day in Japan, so its QR is drawn once a day, and never shorter-lived than
the seven days a card opened offline on a trip needs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from app.i18n import TOKYO
from app.keyfile import new_signing_key
from app.qr import signed_code_qr_svg
from app.services.membership.member_card import card_expiry
from app.services.shared.signed_tokens import TokenSigner

# 23:59 in Tokyo on 2026-12-06, a minute before the day changes there.
LATE = datetime(2026, 12, 6, 14, 59, tzinfo=timezone.utc)


def test_a_card_code_expires_at_midnight_in_japan_seven_to_eight_days_ahead():
    early = LATE - timedelta(hours=23, minutes=59)  # 00:00 in Tokyo the same day
    for now in (early, LATE):
        expires = card_expiry(now)
        assert expires.astimezone(TOKYO).time() == datetime.min.time()
        assert timedelta(days=7) <= expires - now <= timedelta(days=8)
    assert card_expiry(early) == card_expiry(LATE)
    assert card_expiry(LATE + timedelta(minutes=1)) == card_expiry(LATE) + timedelta(days=1)


def test_a_members_card_code_and_its_qr_are_the_same_all_day():
    signer = TokenSigner(new_signing_key())
    codes = {signer.sign("card", 42, card_expiry(LATE - timedelta(hours=h))) for h in range(0, 24, 3)}
    assert len(codes) == 1
    code = codes.pop()
    assert signed_code_qr_svg(code, "QR") is signed_code_qr_svg(code, "QR")  # drawn once, then kept
    assert signer.verify(code, "card", LATE + timedelta(days=7)).subject_id == 42
