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


class CountingKey:
    """The signer's public key, counting its signature checks."""

    def __init__(self, key) -> None:
        self.key, self.checks = key, 0

    def verify(self, signature: bytes, body: bytes) -> None:
        self.checks += 1
        self.key.verify(signature, body)


def test_a_code_checked_again_skips_only_the_signature_its_bytes_already_passed(signer):
    key = signer._public[signer.key_id] = CountingKey(signer._public[signer.key_id])
    token = signer.sign("wallet", 7, NOW + timedelta(minutes=5))
    assert signer.verify(token, "wallet", NOW).subject_id == 7
    assert signer.verify(token.lower(), "wallet", NOW).subject_id == 7  # the same bytes, typed
    assert key.checks == 1
    # What the code says is still read and checked every time.
    for kind, now, reason in (("card", NOW, "wrong_kind"), ("wallet", NOW + timedelta(minutes=6), "expired")):
        with pytest.raises(TokenError) as refused:
            signer.verify(token, kind, now)
        assert refused.value.reason == reason
    # Other bytes are checked afresh: one changed character of the remembered code is a forgery.
    tampered = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    with pytest.raises(TokenError) as refused:
        signer.verify(tampered, "wallet", NOW)
    assert refused.value.reason in ("forged", "damaged") and key.checks == 2


def test_the_codes_remembered_are_bounded(signer, monkeypatch):
    from app.services.shared import signed_tokens

    monkeypatch.setattr(signed_tokens, "REMEMBERED_SIGNATURES", 3)
    key = signer._public[signer.key_id] = CountingKey(signer._public[signer.key_id])
    tokens = [signer.sign("card", n, NOW + timedelta(days=1)) for n in range(5)]
    for token in tokens:
        signer.verify(token, "card", NOW)
    assert len(signer._signed) == 3
    signer.verify(tokens[4], "card", NOW)  # among the last three
    signer.verify(tokens[0], "card", NOW)  # forgotten: checked again
    assert key.checks == 6
