"""Deleting an account (APPI): every personal value held about the person is removed or anonymised, in one
transaction. What others rely on (a redemption at a shop, a seat in a program, a survey's counts) stays, as
rows that no longer say who. tests/services/membership/test_erasure.py fills every table with marked values
through the services, deletes the account and scans every text column of every table for the marks.

Table by table:
- account: stays as a tombstone ("退会済み", status deleted); e-mail, its confirmation and the WebAuthn user id
  (which a passkey left on a phone still carries) are replaced.
- member: names, readings, municipality, the free text about ties, the interests and the id an import brought
  (external_id, which names them in the municipality's other system) are emptied; the number,
  home prefecture, ties (fixed choices), tier and dates stay for the statistics.
- area_follow, passkey, login_session, one_time_token, push_subscription, push_preference and their own
  notices (the desk's answers among them): deleted; so are the notifications told to them alone (a premium
  decision) with their deliveries.
- delivery to their devices: the push service's error texts emptied, those still queued expired.
- line_link and line_link_nonce: deleted (their LINE user id goes); line_delivery to it: still queued ones
  skipped, LINE's error texts emptied.
- outbox_mail to any address they used, and the desk's mails of their inquiries: deleted; so are the files of
  mails written without a mail server (var/mail) that name one of their addresses. Their weekly digests
  (digest) are deleted and no more are made (member.digest_since emptied).
- application: motivation and answers emptied; status and attendance stay (participants per area).
- check_in: the staff's reason for one recorded by hand emptied; the check-in stays (activities per area).
- premium_application: the municipalities stated, the evidence and the staff's reason emptied; status and dates
  stay (the premium funnel). journey_event holds no text and stays.
- travel_claim: where they set out from, the route and what the secretariat wrote to them emptied, the receipts
  deleted (their upload rows, and their files with `var_dir`); claims nobody decided on are withdrawn; program,
  amounts, status and dates stay (the year's totals, the accounts) (subsidy/forgetting.py).
- wallet_pass: the staff's reason for a suspension emptied; the pass and its redemptions stay (uses per shop).
- survey_response: unlinked from the account and free-text answers emptied; choices and scales stay.
- inquiry (linked to them, or sent from one of their addresses before they registered): name "退会済み", e-mail
  and phone emptied, open ones closed; every message body emptied (theirs, the desk's answers, the notes);
  staff notices that quoted them emptied; the mails they sent to the desk's mailbox emptied, the rows of their
  attachments deleted and, once the transaction has committed, the attachments' files (var/uploads) too.
- erased_identity: a one-way hash of each address and source id they had, so that an import of the
  municipality's list does not make them a member again (imports/registrants.py).
- audit_log: free-text values of entries about their account, wallet passes, applications, check-ins,
  premium applications, travel-subsidy claims and inquiries
  dropped; their name, e-mail or phone replaced by *** wherever an entry quotes it (a search in an export).
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, quote_plus

from piccolo.columns import Column
from piccolo.columns.combination import WhereRaw

from app.services.desk import forgetting
from app.services.imports import held
from app.services.membership import login_sessions
from app.services.membership.passkeys import new_user_handle
from app.services.notify import line_links, mail, personal
from app.services.shared import clock, erased, uploads
from app.services.subsidy.forgetting import forget_claims
from db.engine import atomic
from db.tables import (
    Account,
    Application,
    AreaFollow,
    AuditLog,
    CheckIn,
    Delivery,
    Digest,
    Inquiry,
    Member,
    Notice,
    Notification,
    OneTimeToken,
    OutboxMail,
    Passkey,
    PremiumApplication,
    PushPreference,
    PushSubscription,
    SurveyAnswer,
    SurveyResponse,
    TravelClaim,
    WalletPass,
)

ERASED_NAME = "退会済み"
REDACTED = "***"
# Keys of an audit entry's detail that hold what someone typed about the person (a reason for a suspension).
FREE_TEXT_KEYS = ("reason", "note", "name", "email", "phone", "message", "body")
# A personal value is looked for in others' records only when it cannot be an ordinary word: two characters
# at least, four when plain ASCII (a nickname "ab" must not redact "table").
NEEDLE_MIN, ASCII_NEEDLE_MIN = 2, 4


@dataclass
class Person:
    """What is known about the person before anything is erased: where their data lies and what it says."""

    account_id: int
    member_id: int | None = None
    emails: set[str] = field(default_factory=set)
    values: set[str] = field(default_factory=set)
    inquiry_ids: list[int] = field(default_factory=list)
    mail_ids: list[int] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # uploads to delete once the erasure has committed
    targets: dict[str, list[int]] = field(default_factory=dict)


def _among(column: Column, values) -> object:
    """`column IN values`, or a condition that holds for no row when there are none (Piccolo refuses [])."""
    values = list(values)
    return column.is_in(values) if values else WhereRaw("1 = 0")


def _email_is(column: Column, emails: set[str]):
    """The column holds one of these addresses, in any case (the desk keeps them as typed)."""
    name = column._meta.get_full_name(with_alias=False)
    condition = WhereRaw("1 = 0")
    for email in sorted(emails):
        condition = condition | WhereRaw(f"LOWER({name}) = {{}}", email)
    return condition


async def delete_account(account_id: int, now: datetime | None = None, var_dir: Path | None = None) -> None:
    """Erase the person behind `account_id` (see the module's docstring for each table); audited. `var_dir`: the
    files naming them go too — mails written without a mail server, import files waiting for their next step,
    the attachments of the mails they sent to the desk."""
    now = now or clock.now()
    async with atomic(Account._meta.db):
        person = await _person(account_id)
        if person is None:
            return
        source_id = (await Member.select(Member.external_id).where(Member.id == person.member_id).first() or {}).get(
            "external_id") if person.member_id else None
        await erased.remember(person.emails, source_id, now)
        await _forget_devices(person)
        await _forget_profile_and_activity(person)
        forgotten = await forgetting.forget_inquiries(person.inquiry_ids, ERASED_NAME, now)
        person.mail_ids += forgotten.mails
        person.files += forgotten.files
        await _forget_inbox_and_mail(person)
        await _redact_audit(person)
        await Account.update({
            Account.status: "deleted", Account.display_name: ERASED_NAME, Account.email: None,
            Account.email_verified_at: None, Account.webauthn_user_id: new_user_handle(),
        }).where(Account.id == account_id)
        await AuditLog.insert(AuditLog(actor=account_id, action="account.delete", target_type="account",
                                       target_id=str(account_id), created_at=now))
    if var_dir is not None:  # after the commit: a file deleted for a rolled-back erasure would not come back
        await mail.forget_files(var_dir / "mail", person.emails)
        await asyncio.to_thread(held.forget_naming, var_dir, person.emails)
        await uploads.delete_files(person.files, var_dir)


async def _person(account_id: int) -> Person | None:
    account = await Account.select(Account.display_name, Account.email, Account.status).where(
        Account.id == account_id).first()
    if account is None or account["status"] == "deleted":
        return None
    person = Person(account_id)
    member = await Member.select().where(Member.account == account_id).first()
    tokens = await OneTimeToken.select(OneTimeToken.email).where(OneTimeToken.account == account_id)
    person.emails = {e.strip().lower() for e in [account["email"] or "", *(t["email"] for t in tokens)] if e.strip()}
    person.values = {account["display_name"], *person.emails}
    if member:
        person.member_id = member["id"]
        names = [member[n] for n in ("family_name", "given_name", "family_name_kana", "given_name_kana")]
        person.values |= {*names, f"{names[0]} {names[1]}", f"{names[0]}{names[1]}"}
    # Their inquiries, and those sent from their address before they registered (not another account's).
    inquiries = await Inquiry.select(Inquiry.id, Inquiry.name, Inquiry.furigana, Inquiry.email, Inquiry.phone).where(
        (Inquiry.account == account_id) | (Inquiry.account.is_null() & _email_is(Inquiry.email, person.emails)))
    person.inquiry_ids = [i["id"] for i in inquiries]
    person.emails |= {i["email"].strip().lower() for i in inquiries if i["email"].strip()}
    person.values |= {v for i in inquiries for v in (i["name"], i["furigana"], i["email"], i["phone"])}
    person.targets = await _targets(person)
    return person


async def _targets(person: Person) -> dict[str, list[int]]:
    """The person's things, by the target type the audit log names them with."""
    wallet_passes = await WalletPass.select(WalletPass.id).where(WalletPass.member == person.member_id) \
        if person.member_id else []
    applications = await Application.select(Application.id).where(Application.member == person.member_id) \
        if person.member_id else []
    checked_in = await CheckIn.select(CheckIn.id).where(CheckIn.member == person.member_id) if person.member_id else []
    premium = await PremiumApplication.select(PremiumApplication.id).where(
        PremiumApplication.member == person.member_id) if person.member_id else []
    claims = await TravelClaim.select(TravelClaim.id).where(TravelClaim.member == person.member_id) \
        if person.member_id else []
    return {
        "account": [person.account_id],
        "member": [person.member_id] if person.member_id else [],
        "wallet_pass": [row["id"] for row in wallet_passes],
        "application": [row["id"] for row in applications],
        "check_in": [row["id"] for row in checked_in],
        "premium_application": [row["id"] for row in premium],
        "travel_claim": [row["id"] for row in claims],
        "inquiry": person.inquiry_ids,
    }


async def _forget_devices(person: Person) -> None:
    """Passkeys, logged-in devices, one-time links, push devices and what was sent to them, push topics, the
    LINE link."""
    account_id = person.account_id
    await Passkey.delete().where(Passkey.account == account_id)
    await login_sessions.end_all(account_id)
    await OneTimeToken.delete().where(OneTimeToken.account == account_id)
    devices = PushSubscription.select(PushSubscription.id).where(PushSubscription.account == account_id)
    await Delivery.update({Delivery.status: "expired", Delivery.claimed_until: None}).where(
        Delivery.subscription.is_in(devices) & (Delivery.status == "queued"))
    await Delivery.update({Delivery.last_error: ""}).where(Delivery.subscription.is_in(devices))
    await PushSubscription.delete().where(PushSubscription.account == account_id)
    await PushPreference.delete().where(PushPreference.account == account_id)
    await line_links.forget(account_id)


async def _forget_profile_and_activity(person: Person) -> None:
    """The profile, followed areas, what applications and survey answers say, staff's reasons on passes and on
    check-ins recorded by hand, what premium applications state, and the trips and receipts of travel claims."""
    if person.member_id:
        await AreaFollow.delete().where(AreaFollow.member == person.member_id)
        await Member.update({
            Member.family_name: "", Member.given_name: "", Member.family_name_kana: "", Member.given_name_kana: "",
            Member.home_municipality: "", Member.ties_other: "", Member.interests: [], Member.external_id: None,
            Member.digest_since: None,
        }).where(Member.id == person.member_id)
        await Digest.delete().where(Digest.member == person.member_id)
        await Application.update({Application.motivation: "", Application.answers: []}).where(
            Application.member == person.member_id)
        await WalletPass.update({WalletPass.status_reason: ""}).where(WalletPass.member == person.member_id)
        await CheckIn.update({CheckIn.reason: ""}).where(CheckIn.member == person.member_id)
        await PremiumApplication.update({
            PremiumApplication.home_municipality: "", PremiumApplication.other_municipalities: [],
            PremiumApplication.evidence: [], PremiumApplication.reason: "",
        }).where(PremiumApplication.member == person.member_id)
        person.files += await forget_claims(person.member_id)  # their receipts
    responses = SurveyResponse.select(SurveyResponse.id).where(SurveyResponse.account == person.account_id)
    await SurveyAnswer.update({SurveyAnswer.text: ""}).where(SurveyAnswer.response.is_in(responses))
    await SurveyResponse.update({SurveyResponse.account: None}).where(SurveyResponse.account == person.account_id)


async def _forget_inbox_and_mail(person: Person) -> None:
    await Notice.delete().where(Notice.account == person.account_id)
    # Decisions told to them alone (notify/personal.py) say what was decided about them; with their deliveries
    told = await Notification.select(Notification.id, Notification.target).where(
        Notification.topic == personal.TOPIC).output(load_json=True)
    theirs = [row["id"] for row in told if (row["target"] or {}).get("accounts") == [person.account_id]]
    await Notification.delete().where(_among(Notification.id, theirs))
    await OutboxMail.delete().where(_among(OutboxMail.id, person.mail_ids) | _email_is(OutboxMail.to_address, person.emails))


async def _redact_audit(person: Person) -> None:
    """Entries about the person's things lose what was typed about them; entries elsewhere that quote their
    name or address (the search behind an export) get *** in its place."""
    for target_type, ids in person.targets.items():
        about = await AuditLog.select(AuditLog.id, AuditLog.detail).where(
            (AuditLog.target_type == target_type) & _among(AuditLog.target_id, [str(i) for i in ids])
        ).output(load_json=True)
        for entry in about:
            detail = entry["detail"]
            if isinstance(detail, dict) and any(key in detail for key in FREE_TEXT_KEYS):
                kept = {key: value for key, value in detail.items() if key not in FREE_TEXT_KEYS}
                await AuditLog.update({AuditLog.detail: kept}).where(AuditLog.id == entry["id"])
    variants = _variants(person.values)
    if not variants:
        return
    patterns = sorted({_like(text) for variant in variants for text in (variant, json.dumps(variant)[1:-1])})
    where = " OR ".join(["LOWER(CAST(detail AS TEXT)) LIKE {} ESCAPE '!'"] * len(patterns))
    for entry in await AuditLog.raw(f"SELECT id, detail FROM audit_log WHERE {where}", *patterns):
        detail = json.loads(entry["detail"]) if isinstance(entry["detail"], str) else entry["detail"]
        redacted = _redact(detail, variants)
        if redacted != detail:
            await AuditLog.update({AuditLog.detail: redacted}).where(AuditLog.id == entry["id"])


def _variants(values: set[str]) -> list[str]:
    """The personal values worth looking for, also as they appear in an address (URL-encoded), lower case."""
    needles = set()
    for value in values:
        value = (value or "").strip().lower()
        if len(value) < (ASCII_NEEDLE_MIN if value.isascii() else NEEDLE_MIN):
            continue
        needles |= {value, quote(value).lower(), quote_plus(value).lower()}
    return sorted(needles, key=len, reverse=True)


def _like(text: str) -> str:
    return "%" + re.sub(r"([!%_])", r"!\1", text) + "%"


def _redact(value, variants: list[str]):
    if isinstance(value, str):
        for variant in variants:
            value = re.sub(re.escape(variant), REDACTED, value, flags=re.IGNORECASE)
        return value
    if isinstance(value, list):
        return [_redact(item, variants) for item in value]
    if isinstance(value, dict):
        return {key: _redact(item, variants) for key, item in value.items()}
    return value
