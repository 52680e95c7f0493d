"""Passkeys at the service level: every refusal the security model lists, with a software authenticator.

Each ceremony here runs as the routes run it: a challenge issued and stored, options built from it, the
authenticator's answer, then verification against that challenge.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from app.services.membership import erasure, membership, passkeys
from app.services.membership.passkeys import Authenticated, PasskeyError, RelyingParty
from app.services.shared import clock
from db.tables import Account, AuthChallenge, Passkey
from tests.authenticator import SoftwareAuthenticator

RP = RelyingParty(rp_id="localhost", name="Tsunagu", origins=("http://localhost:8000",))


# --- helpers: one ceremony each ------------------------------------------------------------------


@dataclass
class Member:
    account_id: int
    user_handle: str
    credential_id: str
    authenticator: SoftwareAuthenticator


async def registration_ceremony(user_handle: str, purpose: str = "register", exclude: list[str] | None = None):
    challenge = await passkeys.issue_challenge(purpose)
    options = passkeys.registration_options(RP, challenge, user_handle, "taro", "つなぐ太郎", exclude or [])
    return challenge, options


async def login_ceremony(purpose: str = "login"):
    challenge = await passkeys.issue_challenge(purpose)
    return challenge, passkeys.authentication_options(RP, challenge)


async def new_passkey(authenticator: SoftwareAuthenticator, user_handle: str, **answer) -> passkeys.NewPasskey:
    challenge, options = await registration_ceremony(user_handle)
    return await passkeys.verify_new_passkey(RP, authenticator.create(options, **answer), challenge, "register")


async def register(display_name: str = "つなぐ太郎", authenticator: SoftwareAuthenticator | None = None, **answer) -> Member:
    """A member registered the way the registration flow does it: profile, passkey, one transaction."""
    authenticator = authenticator or SoftwareAuthenticator()
    user_handle = passkeys.new_user_handle()
    new = await new_passkey(authenticator, user_handle, **answer)
    profile = membership.Profile(display_name=display_name, home_prefecture="13", ties=["workation"])
    registered = await membership.register_member(profile, user_handle, new, "テスト端末", "TMK")
    return Member(registered.account_id, user_handle, new.credential_id, authenticator)


async def log_in(member: Member, **answer) -> Authenticated:
    challenge, options = await login_ceremony()
    return await passkeys.authenticate(RP, member.authenticator.get(options, **answer), challenge)


async def refusal(awaitable) -> str:
    """The code of the PasskeyError the ceremony ends with (anything else fails the test)."""
    with pytest.raises(PasskeyError) as refused:
        await awaitable
    return refused.value.reason


async def stored_passkey(credential_id: str) -> dict:
    return await Passkey.select().where(Passkey.credential_id == credential_id).output(load_json=True).first()


# --- the happy path ---------------------------------------------------------------------------


async def test_a_member_registers_a_passkey_and_logs_in_with_it():
    member = await register()
    result = await log_in(member)
    assert result == Authenticated(account_id=member.account_id, role="member")


async def test_a_registered_passkey_keeps_its_key_flags_and_a_member_number():
    member = await register(synced=True)
    row = await stored_passkey(member.credential_id)
    assert row["account"] == member.account_id
    assert row["device_type"] == "multi_device" and row["backed_up"] is True
    assert row["sign_count"] == 0 and row["last_used_at"] is None
    assert row["transports"] == ["hybrid", "internal"]
    assert (await membership.member_for_account(member.account_id))["member_no"].startswith("TMK-")


async def test_transports_that_are_not_a_list_are_not_stored():
    challenge, options = await registration_ceremony(passkeys.new_user_handle())
    answer = SoftwareAuthenticator().create(options)
    answer["response"]["transports"] = "internal"
    new = await passkeys.verify_new_passkey(RP, answer, challenge, "register")
    assert new.transports == []


async def test_each_login_advances_the_sign_count_and_records_the_time():
    member = await register(sign_count=1)
    await log_in(member)
    first = await stored_passkey(member.credential_id)
    assert first["sign_count"] == 2
    assert first["last_used_at"] is not None
    await log_in(member, sign_count=7)
    assert (await stored_passkey(member.credential_id))["sign_count"] == 7
    account = await Account.select(Account.last_login_at).where(Account.id == member.account_id).first()
    assert account["last_login_at"] is not None


async def test_a_synced_passkey_reporting_zero_every_time_is_accepted_again_and_again():
    member = await register(synced=True)
    for _ in range(3):
        assert (await log_in(member)).account_id == member.account_id
    row = await stored_passkey(member.credential_id)
    assert row["sign_count"] == 0
    assert row["last_used_at"] is not None


async def test_several_members_each_log_in_as_themselves_from_one_authenticator():
    shared = SoftwareAuthenticator()
    taro = await register("太郎", shared)
    hanako = await register("花子", shared)
    assert (await log_in(taro, credential=taro.credential_id)).account_id == taro.account_id
    assert (await log_in(hanako, credential=hanako.credential_id)).account_id == hanako.account_id


async def test_a_member_adds_a_second_passkey_and_logs_in_with_either():
    member = await register()
    laptop = SoftwareAuthenticator()
    challenge, options = await registration_ceremony(member.user_handle, exclude=[member.credential_id])
    new = await passkeys.verify_new_passkey(RP, laptop.create(options), challenge, "register")
    await passkeys.add_passkey(member.account_id, new, "ノートPC")
    assert await passkeys.credential_ids(member.account_id) == [member.credential_id, new.credential_id]
    assert (await log_in(member)).account_id == member.account_id
    challenge, options = await login_ceremony()
    assert (await passkeys.authenticate(RP, laptop.get(options), challenge)).account_id == member.account_id


# --- origin and rp id --------------------------------------------------------------------------


async def test_a_registration_answered_for_another_origin_is_refused():
    challenge, options = await registration_ceremony(passkeys.new_user_handle())
    answer = SoftwareAuthenticator().create(options, origin="https://tsunagu.evil.example")
    assert await refusal(passkeys.verify_new_passkey(RP, answer, challenge, "register")) == "wrong_origin"


async def test_a_login_answered_for_another_origin_is_refused():
    member = await register()
    assert await refusal(log_in(member, origin="https://tsunagu.evil.example")) == "wrong_origin"


async def test_a_registration_signed_for_another_rp_id_is_refused():
    challenge, options = await registration_ceremony(passkeys.new_user_handle())
    answer = SoftwareAuthenticator().create(options, rp_id="evil.example")
    assert await refusal(passkeys.verify_new_passkey(RP, answer, challenge, "register")) == "wrong_rp_id"


async def test_a_login_signed_for_another_rp_id_is_refused():
    member = await register()
    assert await refusal(log_in(member, rp_id="evil.example")) == "wrong_rp_id"


# --- challenges: ours, single use, five minutes, one purpose ------------------------------------


async def test_a_registration_challenge_answers_one_registration_only():
    authenticator = SoftwareAuthenticator()
    challenge, options = await registration_ceremony(passkeys.new_user_handle())
    await passkeys.verify_new_passkey(RP, authenticator.create(options), challenge, "register")
    again = authenticator.create(options)  # a fresh credential, the same (spent) challenge
    assert await refusal(passkeys.verify_new_passkey(RP, again, challenge, "register")) == "challenge_invalid"


async def test_a_replayed_login_answer_is_refused():
    member = await register()
    challenge, options = await login_ceremony()
    answer = member.authenticator.get(options)
    await passkeys.authenticate(RP, answer, challenge)
    assert await refusal(passkeys.authenticate(RP, answer, challenge)) == "challenge_invalid"


async def test_a_login_challenge_cannot_be_signed_twice():
    member = await register(synced=True)  # a 0/0 counter would not catch this replay: only the challenge does
    challenge, options = await login_ceremony()
    await passkeys.authenticate(RP, member.authenticator.get(options), challenge)
    assert await refusal(passkeys.authenticate(RP, member.authenticator.get(options), challenge)) == "challenge_invalid"


async def test_a_refused_login_still_uses_up_its_challenge():
    member = await register()
    challenge, options = await login_ceremony()
    without_uv = member.authenticator.get(options, user_verified=False)
    assert await refusal(passkeys.authenticate(RP, without_uv, challenge)) == "user_not_verified"
    retry = member.authenticator.get(options)
    assert await refusal(passkeys.authenticate(RP, retry, challenge)) == "challenge_invalid"


async def test_an_expired_registration_challenge_is_refused():
    challenge, options = await registration_ceremony(passkeys.new_user_handle())
    await AuthChallenge.update({AuthChallenge.expires_at: clock.now() - timedelta(seconds=1)}).where(
        AuthChallenge.challenge == challenge
    )
    answer = SoftwareAuthenticator().create(options)
    assert await refusal(passkeys.verify_new_passkey(RP, answer, challenge, "register")) == "challenge_invalid"


async def test_a_login_challenge_expires_after_five_minutes(monkeypatch):
    member = await register()
    challenge, options = await login_ceremony()
    answer = member.authenticator.get(options)
    issued = clock.now()
    monkeypatch.setattr(clock, "now", lambda: issued + passkeys.CHALLENGE_TTL + timedelta(seconds=1))
    assert await refusal(passkeys.authenticate(RP, answer, challenge)) == "challenge_invalid"


async def test_a_login_challenge_is_still_good_just_before_it_expires(monkeypatch):
    member = await register()
    challenge, options = await login_ceremony()
    answer = member.authenticator.get(options)
    issued = clock.now()
    monkeypatch.setattr(clock, "now", lambda: issued + passkeys.CHALLENGE_TTL - timedelta(seconds=5))
    assert (await passkeys.authenticate(RP, answer, challenge)).account_id == member.account_id


async def test_expired_challenges_are_purged():
    await passkeys.issue_challenge("login")
    fresh = await passkeys.issue_challenge("login")
    await AuthChallenge.update({AuthChallenge.expires_at: clock.now() - timedelta(minutes=1)}).where(
        AuthChallenge.challenge != fresh
    )
    await passkeys.purge_expired_challenges()
    assert [row["challenge"] for row in await AuthChallenge.select(AuthChallenge.challenge)] == [fresh]


async def test_a_login_challenge_cannot_register_a_passkey():
    user_handle = passkeys.new_user_handle()
    challenge, _ = await login_ceremony()
    options = passkeys.registration_options(RP, challenge, user_handle, "taro", "つなぐ太郎", [])
    answer = SoftwareAuthenticator().create(options)
    assert await refusal(passkeys.verify_new_passkey(RP, answer, challenge, "register")) == "challenge_invalid"


async def test_a_registration_challenge_cannot_log_in():
    member = await register()
    challenge, options = await login_ceremony(purpose="register")
    answer = member.authenticator.get(options)
    assert await refusal(passkeys.authenticate(RP, answer, challenge)) == "challenge_invalid"


async def test_a_challenge_the_server_never_issued_is_refused():
    member = await register()
    made_up = passkeys.new_user_handle()  # 32 random bytes, shaped like a real challenge
    options = passkeys.authentication_options(RP, made_up)
    assert await refusal(passkeys.authenticate(RP, member.authenticator.get(options), made_up)) == "challenge_invalid"


async def test_an_answer_to_another_browsers_challenge_is_refused():
    member = await register()
    mine, options = await login_ceremony()
    theirs, _ = await login_ceremony()
    answer = member.authenticator.get(options, challenge=theirs)  # signed over a challenge issued to someone else
    assert await refusal(passkeys.authenticate(RP, answer, mine)) == "challenge_invalid"
    # ...and the mismatch did not spend this browser's challenge.
    assert (await passkeys.authenticate(RP, member.authenticator.get(options), mine)).account_id == member.account_id


# --- user verification and presence ------------------------------------------------------------


async def test_a_registration_without_user_verification_is_refused():
    challenge, options = await registration_ceremony(passkeys.new_user_handle())
    answer = SoftwareAuthenticator().create(options, user_verified=False)
    assert await refusal(passkeys.verify_new_passkey(RP, answer, challenge, "register")) == "user_not_verified"
    assert await Passkey.count() == 0


async def test_a_login_without_user_verification_is_refused():
    member = await register()
    assert await refusal(log_in(member, user_verified=False)) == "user_not_verified"


async def test_a_login_without_user_presence_is_refused():
    member = await register()
    assert await refusal(log_in(member, user_present=False)) == "verification_failed"


# --- sign counts --------------------------------------------------------------------------------


async def test_a_sign_count_that_goes_backwards_is_refused_and_changes_nothing():
    member = await register(sign_count=5)
    await log_in(member, sign_count=10)
    before = await stored_passkey(member.credential_id)
    assert await refusal(log_in(member, sign_count=9)) == "sign_count_regressed"
    assert await stored_passkey(member.credential_id) == before


async def test_a_sign_count_that_does_not_move_is_refused():
    member = await register(sign_count=5)
    assert await refusal(log_in(member, sign_count=5)) == "sign_count_regressed"


async def test_a_counting_passkey_that_falls_back_to_zero_is_refused():
    member = await register(sign_count=3)
    assert await refusal(log_in(member, sign_count=0)) == "sign_count_regressed"


# --- whose passkey is it ----------------------------------------------------------------------


async def test_a_user_handle_of_another_account_is_refused():
    taro = await register("太郎")
    hanako = await register("花子")
    assert await refusal(log_in(taro, user_handle=hanako.user_handle)) == "user_handle_mismatch"


async def test_a_login_without_a_user_handle_is_refused():
    member = await register()
    assert await refusal(log_in(member, user_handle=None)) == "user_handle_mismatch"


async def test_an_unknown_credential_is_refused():
    await register()
    stranger = SoftwareAuthenticator()
    challenge, options = await registration_ceremony(passkeys.new_user_handle())
    stranger.create(options)  # made, but never sent to the server
    challenge, options = await login_ceremony()
    assert await refusal(passkeys.authenticate(RP, stranger.get(options), challenge)) == "unknown_credential"


async def test_a_known_credential_id_signed_with_another_key_is_refused():
    victim = await register("太郎")
    forger = SoftwareAuthenticator()
    _, options = await registration_ceremony(victim.user_handle)
    forger.create(options, credential_id=victim.credential_id)  # same id and user handle, the forger's key
    challenge, options = await login_ceremony()
    assert await refusal(passkeys.authenticate(RP, forger.get(options), challenge)) == "verification_failed"


async def test_a_tampered_signature_is_refused():
    member = await register()
    challenge, options = await login_ceremony()
    answer = member.authenticator.get(options)
    other = member.authenticator.get(options)  # a valid signature, over different authenticator data
    answer["response"]["signature"] = other["response"]["signature"]
    assert await refusal(passkeys.authenticate(RP, answer, challenge)) == "verification_failed"


async def test_a_passkey_of_a_deleted_account_cannot_log_in():
    member = await register()
    await Account.update({Account.status: "deleted"}).where(Account.id == member.account_id)
    assert await refusal(log_in(member)) == "unknown_credential"


async def test_a_member_who_deleted_their_account_cannot_log_in():
    member = await register()
    await erasure.delete_account(member.account_id)
    assert await refusal(log_in(member)) == "unknown_credential"


# --- registering a credential id twice ----------------------------------------------------------


async def test_a_credential_id_already_registered_to_another_member_cannot_be_registered_again():
    victim = await register("太郎")
    attacker = SoftwareAuthenticator()
    challenge, options = await registration_ceremony(passkeys.new_user_handle())
    answer = attacker.create(options, credential_id=victim.credential_id)
    assert await refusal(passkeys.verify_new_passkey(RP, answer, challenge, "register")) == "already_registered"
    assert await Passkey.count() == 1


async def test_the_same_passkey_cannot_be_added_twice_to_one_account():
    member = await register()
    challenge, options = await registration_ceremony(member.user_handle, exclude=[member.credential_id])
    answer = member.authenticator.create(options, credential_id=member.credential_id, respect_exclude=False)
    assert await refusal(passkeys.verify_new_passkey(RP, answer, challenge, "register")) == "already_registered"


async def test_the_registration_options_exclude_passkeys_the_account_already_has():
    member = await register()
    _, options = await registration_ceremony(member.user_handle, exclude=await passkeys.credential_ids(member.account_id))
    assert [d["id"] for d in json.loads(options)["excludeCredentials"]] == [member.credential_id]


# --- options ----------------------------------------------------------------------------------


async def test_registration_options_ask_for_a_discoverable_credential_and_user_verification():
    challenge, options = await registration_ceremony(passkeys.new_user_handle())
    parsed = json.loads(options)
    assert parsed["challenge"] == challenge
    assert parsed["rp"]["id"] == "localhost"
    assert parsed["authenticatorSelection"]["residentKey"] == "required"
    assert parsed["authenticatorSelection"]["userVerification"] == "required"


async def test_login_options_are_usernameless_and_require_user_verification():
    challenge, options = await login_ceremony()
    parsed = json.loads(options)
    assert parsed["challenge"] == challenge
    assert parsed["rpId"] == "localhost"
    assert parsed["allowCredentials"] == []
    assert parsed["userVerification"] == "required"


async def test_user_handles_and_challenges_are_random_and_carry_nothing_personal():
    handles = {passkeys.new_user_handle() for _ in range(20)}
    challenges = {await passkeys.issue_challenge("login") for _ in range(20)}
    assert len(handles) == 20 and len(challenges) == 20
    assert all(len(value) == 43 for value in handles | challenges)  # 32 random bytes, base64url


# --- malformed answers: a PasskeyError and nothing else -----------------------------------------

GARBAGE_BODIES = [
    b"",
    b"not json",
    b"\xff\xfe\x00",
    b"null",
    b"5",
    b'"text"',
    b"[]",
    b"{}",
    b'{"response": 5}',
    b'{"response": []}',
    b'{"response": {}}',
    b'{"response": {"clientDataJSON": 5}}',
    b'{"response": {"clientDataJSON": "!!!"}}',
    b'{"response": {"clientDataJSON": "bm90IGpzb24"}}',  # base64url of "not json"
    b'{"response": {"clientDataJSON": "WzFd"}}',  # base64url of "[1]"
    b"[" * 30_000 + b"]" * 30_000,  # deep nesting, under the size limit
    b'{"response": {"x": "' + b"a" * (passkeys.MAX_CREDENTIAL_BYTES + 1) + b'"}}',
]


async def _parse_and_verify(body: bytes) -> None:
    credential = passkeys.parse_credential(body)
    await passkeys.authenticate(RP, credential, "unused")


@pytest.mark.parametrize("body", GARBAGE_BODIES, ids=[repr(body[:30]) for body in GARBAGE_BODIES])
async def test_an_unreadable_answer_is_refused_as_malformed(body):
    assert await refusal(_parse_and_verify(body)) == "malformed"


BAD_VALUES = (None, 5, "", "!!!", "AAAA", [], {})
_MISSING = object()
IGNORED_PARTS = {"clientExtensionResults", "authenticatorAttachment", "transports"}


def _set(container: dict, key: str, value) -> None:
    if value is _MISSING:
        container.pop(key, None)
    else:
        container[key] = value


def _breakages(answer: dict) -> list:
    """Ways to break an answer, one part at a time: each part missing, of the wrong type, or garbled.
    clientDataJSON stays intact (without it even the challenge cannot be read: see the cases above)."""
    breakages = []
    for key in answer:
        if key != "response":
            breakages += [(None, key, value) for value in (*BAD_VALUES, _MISSING)]
    for key in answer["response"]:
        if key != "clientDataJSON":
            breakages += [("response", key, value) for value in (*BAD_VALUES, _MISSING)]
    return breakages


async def refused_unless_harmless(breakage, ceremony) -> None:
    """A broken part that carries meaning ends in a PasskeyError; one the server ignores may pass.
    Either way no other exception (which the route would turn into a 500) escapes."""
    try:
        await ceremony
    except PasskeyError:
        return
    assert breakage[1] in IGNORED_PARTS, f"accepted an answer with {breakage}"


def _break(answer: dict, breakage) -> dict:
    where, key, value = breakage
    _set(answer["response"] if where else answer, key, value)
    return answer


async def test_a_broken_registration_answer_raises_only_passkey_errors():
    authenticator = SoftwareAuthenticator()
    user_handle = passkeys.new_user_handle()
    _, options = await registration_ceremony(user_handle)
    for breakage in _breakages(authenticator.create(options, keep=False)):
        challenge, options = await registration_ceremony(user_handle)
        answer = _break(authenticator.create(options, keep=False), breakage)
        await refused_unless_harmless(
            breakage, passkeys.verify_new_passkey(RP, passkeys.parse_credential(json.dumps(answer)), challenge, "register")
        )


async def test_a_broken_login_answer_raises_only_passkey_errors():
    member = await register()
    _, options = await login_ceremony()
    for breakage in _breakages(member.authenticator.get(options)):
        challenge, options = await login_ceremony()
        answer = _break(member.authenticator.get(options), breakage)
        await refused_unless_harmless(
            breakage, passkeys.authenticate(RP, passkeys.parse_credential(json.dumps(answer)), challenge)
        )


async def test_garbled_attestation_data_raises_only_passkey_errors():
    authenticator = SoftwareAuthenticator()
    user_handle = passkeys.new_user_handle()
    _, options = await registration_ceremony(user_handle)
    attestation = bytearray(base64url_to_bytes(authenticator.create(options)["response"]["attestationObject"]))
    for cut in (1, 10, 40, 80, len(attestation) - 10):
        challenge, options = await registration_ceremony(user_handle)
        answer = authenticator.create(options, keep=False)
        answer["response"]["attestationObject"] = bytes_to_base64url(bytes(attestation[:cut]))
        with pytest.raises(PasskeyError):
            await passkeys.verify_new_passkey(RP, answer, challenge, "register")


# --- removing passkeys --------------------------------------------------------------------------


async def passkey_ids(account_id: int) -> list[int]:
    return [row["id"] for row in await passkeys.list_passkeys(account_id)]


async def test_the_last_passkey_cannot_be_removed_without_a_confirmed_email():
    member = await register()
    [only] = await passkey_ids(member.account_id)
    assert await refusal(passkeys.remove_passkey(member.account_id, only)) == "last_passkey"
    assert await passkey_ids(member.account_id) == [only]


async def test_the_last_passkey_can_be_removed_once_the_email_is_confirmed():
    member = await register()
    await Account.update({Account.email: "taro@example.jp", Account.email_verified_at: clock.now()}).where(
        Account.id == member.account_id
    )
    [only] = await passkey_ids(member.account_id)
    await passkeys.remove_passkey(member.account_id, only)
    assert await passkey_ids(member.account_id) == []


async def test_one_of_two_passkeys_can_be_removed_and_then_no_longer_logs_in():
    member = await register()
    second = await new_passkey(SoftwareAuthenticator(), member.user_handle)
    await passkeys.add_passkey(member.account_id, second, "予備")
    first, _ = await passkey_ids(member.account_id)
    await passkeys.remove_passkey(member.account_id, first)
    assert await passkeys.credential_ids(member.account_id) == [second.credential_id]
    assert await refusal(log_in(member)) == "unknown_credential"


async def test_another_members_passkey_cannot_be_removed():
    taro = await register("太郎")
    hanako = await register("花子")
    await Account.update({Account.email_verified_at: clock.now()}).where(Account.id == taro.account_id)
    [hanakos] = await passkey_ids(hanako.account_id)
    assert await refusal(passkeys.remove_passkey(taro.account_id, hanakos)) == "not_found"
    assert await passkey_ids(hanako.account_id) == [hanakos]


async def test_a_passkey_that_does_not_exist_cannot_be_removed():
    member = await register()
    assert await refusal(passkeys.remove_passkey(member.account_id, 999_999)) == "not_found"


async def test_renaming_touches_only_the_members_own_passkey():
    taro = await register("太郎")
    hanako = await register("花子")
    [taros] = await passkey_ids(taro.account_id)
    [hanakos] = await passkey_ids(hanako.account_id)
    assert await passkeys.rename_passkey(taro.account_id, taros, "iPhone") is True
    assert await passkeys.rename_passkey(taro.account_id, hanakos, "盗った") is False
    names = {row["id"]: row["name"] for row in await Passkey.select(Passkey.id, Passkey.name)}
    assert names == {taros: "iPhone", hanakos: "テスト端末"}
