"""The compact signed token behind the card (and later wallet) QR codes."""

from datetime import datetime, timedelta, timezone

import pytest

from app.keyfile import new_signing_key
from app.services.shared.signed_tokens import TokenError, TokenSigner

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def signer():
    return TokenSigner(new_signing_key())


def test_a_token_round_trips_its_subject_and_expiry(signer):
    token = signer.sign("card", 123456, NOW + timedelta(days=7))
    claims = signer.verify(token, "card", NOW)
    assert claims.subject_id == 123456
    assert claims.expires_at == NOW + timedelta(days=7)


def test_a_token_is_compact_and_qr_alphanumeric(signer):
    token = signer.sign("card", 42, NOW + timedelta(days=7))
    assert len(token) < 130
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def test_a_token_is_read_with_spaces_dashes_and_lower_case(signer):
    token = signer.sign("card", 7, NOW + timedelta(days=1))
    typed = "-".join(token[i : i + 4] for i in range(0, len(token), 4)).lower()
    assert signer.verify(" " + typed + "\n", "card", NOW).subject_id == 7


def test_an_expired_token_is_refused(signer):
    token = signer.sign("card", 7, NOW + timedelta(minutes=5))
    with pytest.raises(TokenError) as refused:
        signer.verify(token, "card", NOW + timedelta(minutes=6))
    assert refused.value.reason == "expired"


def test_a_tampered_token_is_refused_as_forged(signer):
    token = signer.sign("card", 7, NOW + timedelta(days=1))
    index = 8
    tampered = token[:index] + ("A" if token[index] != "A" else "B") + token[index + 1 :]
    with pytest.raises(TokenError) as refused:
        signer.verify(tampered, "card", NOW)
    assert refused.value.reason in ("forged", "damaged")


def test_a_token_from_another_installation_is_refused(signer):
    other = TokenSigner(new_signing_key())
    with pytest.raises(TokenError) as refused:
        signer.verify(other.sign("card", 7, NOW + timedelta(days=1)), "card", NOW)
    assert refused.value.reason == "forged"


def test_a_wallet_token_is_not_a_card(signer):
    with pytest.raises(TokenError) as refused:
        signer.verify(signer.sign("wallet", 7, NOW + timedelta(days=1)), "card", NOW)
    assert refused.value.reason == "wrong_kind"


@pytest.mark.parametrize("garbage", ["", "   ", "!!!!", "A" * 500, "MFRGG===", "0189", "ÄÖÜ"])
def test_garbage_is_refused_as_damaged_never_crashes(signer, garbage):
    with pytest.raises(TokenError) as refused:
        signer.verify(garbage, "card", NOW)
    assert refused.value.reason in ("damaged", "forged")
