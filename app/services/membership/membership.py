"""Furusato-resident membership: the profile, registration and tiers (the data export is in data_export.py,
deleting an account in erasure.py, the member card in member_card.py)."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import date

from piccolo.columns import JSON

from app.i18n import LOCALES, current_locale, in_locale
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.services.legal.documents import PRIVACY_POLICY_VERSION, TERMS_VERSION
from app.services.membership.passkeys import NewPasskey, passkey_row
from app.services.shared import clock
from app.services.shared.reference import INTERESTS, PREFECTURE_CODES, TIES
from app.services.shared.refusals import FormInvalid
from app.services.shared.text import KANA_PATTERN, contains_pattern
from db.engine import atomic, row_ids
from db.tables import (
    Account,
    Area,
    AreaFollow,
    AuditLog,
    Member,
)

DISPLAY_NAME_MAX = 30
NAME_MAX = 50
EMAIL_MAX = 254
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TIERS = ("basic", "premium")
TIER_LABELS = {"basic": _l("Basic"), "premium": _l("Premium")}  # as staff pages name the tiers


@dataclass
class Profile:
    display_name: str = ""
    family_name: str = ""
    given_name: str = ""
    family_name_kana: str = ""
    given_name_kana: str = ""
    email: str = ""
    home_prefecture: str = ""
    home_municipality: str = ""
    ties: list[str] = field(default_factory=list)
    ties_other: str = ""
    interests: list[str] = field(default_factory=list)
    area_ids: list[int] = field(default_factory=list)
    digest: bool = False  # the weekly mail (notify/digest.py), asked for at registration; changed later on its own page

    def to_dict(self) -> dict:
        return asdict(self)


# Profile fields stored on the Member row (display name and e-mail live on the Account).
MEMBER_FIELDS = (
    "family_name", "given_name", "family_name_kana", "given_name_kana",
    "home_prefecture", "home_municipality", "ties", "ties_other", "interests",
)


def member_values(profile: Profile) -> dict:
    return {name: getattr(profile, name) for name in MEMBER_FIELDS}


class ProfileInvalid(FormInvalid):
    """The profile as typed (`values`, a Profile) cannot be saved."""


def _text(value) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    # NFKC folds full-width ASCII (ｔａｒｏ＠…) typed on Japanese keyboards into what mail servers expect.
    return unicodedata.normalize("NFKC", str(value or "")).strip()


def _list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


async def validate_profile(form: dict, *, require_consent: bool) -> Profile:
    """Read a submitted profile; every problem is reported at once, next to its field."""
    profile = _read_profile(form)
    errors = {**_name_errors(profile), **_home_errors(profile), **_choice_errors(profile)}
    profile.area_ids, areas_known = await _chosen_areas(form.get("areas"))
    if not areas_known:
        errors["areas"] = _("Choose from the list.")
    if profile.digest and not profile.email and "email" not in errors:
        errors["digest"] = _("Enter your e-mail address above to get the weekly mail.")
    if require_consent and _text(form.get("consent")) != PRIVACY_POLICY_VERSION:
        errors["consent"] = _("Please read and agree to how we handle your personal data.")
    if require_consent and _text(form.get("terms")) != TERMS_VERSION:
        errors["terms"] = _("Please read and agree to the terms of service.")
    if errors:
        raise ProfileInvalid(errors, profile)
    return profile


def _read_profile(form: dict) -> Profile:
    """The profile as typed, tidied (NFKC, trimmed, the e-mail in lower case, each choice once); areas apart."""
    return Profile(
        display_name=_text(form.get("display_name")),
        family_name=_text(form.get("family_name")),
        given_name=_text(form.get("given_name")),
        family_name_kana=_text(form.get("family_name_kana")),
        given_name_kana=_text(form.get("given_name_kana")),
        email=_text(form.get("email")).lower(),
        home_prefecture=_text(form.get("home_prefecture")),
        home_municipality=_text(form.get("home_municipality")),
        ties=list(dict.fromkeys(_list(form.get("ties")))),
        ties_other=_text(form.get("ties_other")),
        interests=list(dict.fromkeys(_list(form.get("interests")))),
        digest=_text(form.get("digest")) == "1",
    )


def _name_errors(profile: Profile) -> dict[str, str]:
    """The display name, then each name too long, then each reading not in kana (if not already too long)."""
    errors: dict[str, str] = {}
    if not profile.display_name:
        errors["display_name"] = _("Enter the name to show in the app (a nickname is fine).")
    elif len(profile.display_name) > DISPLAY_NAME_MAX:
        errors["display_name"] = _("Use %(max)d characters or fewer.", max=DISPLAY_NAME_MAX)
    for name in ("family_name", "given_name", "family_name_kana", "given_name_kana"):
        if len(getattr(profile, name)) > NAME_MAX:
            errors[name] = _("Use %(max)d characters or fewer.", max=NAME_MAX)
    for name in ("family_name_kana", "given_name_kana"):
        value = getattr(profile, name)
        if value and name not in errors and not KANA_PATTERN.match(value):
            errors[name] = _("Write this in kana (hiragana or katakana).")
    return errors


def _home_errors(profile: Profile) -> dict[str, str]:
    """The e-mail address (optional) and where the member lives."""
    errors: dict[str, str] = {}
    if profile.email and (len(profile.email) > EMAIL_MAX or not EMAIL_PATTERN.match(profile.email)):
        errors["email"] = _("Enter an e-mail address such as taro@example.jp.")
    if profile.home_prefecture not in PREFECTURE_CODES:
        errors["home_prefecture"] = _("Choose the prefecture you live in.")
    if len(profile.home_municipality) > NAME_MAX:
        errors["home_municipality"] = _("Use %(max)d characters or fewer.", max=NAME_MAX)
    return errors


def _choice_errors(profile: Profile) -> dict[str, str]:
    """The ties to the region (at least one, from the list) and the interests (from the list)."""
    errors: dict[str, str] = {}
    if not profile.ties:
        errors["ties"] = _("Choose at least one way you are connected to the region.")
    elif any(tie not in TIES for tie in profile.ties):
        errors["ties"] = _("Choose from the list.")
    if len(profile.ties_other) > 100:
        errors["ties_other"] = _("Use %(max)d characters or fewer.", max=100)
    if any(interest not in INTERESTS for interest in profile.interests):
        errors["interests"] = _("Choose from the list.")
    return errors


async def _chosen_areas(value) -> tuple[list[int], bool]:
    """The areas ticked (ids sorted, each once) and whether every one is a known area. Something that is not
    an id chooses no area at all."""
    wanted = row_ids(_list(value))
    if wanted is None:
        return [], False
    if not wanted:
        return [], True
    found = await Area.select(Area.id).where(Area.id.is_in(wanted))
    return wanted, len(found) == len(wanted)


def profile_from_dict(data: dict) -> Profile:
    return Profile(**{k: v for k, v in data.items() if k in Profile.__dataclass_fields__})


def format_member_no(prefix: str, member_id: int) -> str:
    return f"{prefix}-{member_id:06d}"


@dataclass(frozen=True)
class Registered:
    account_id: int
    member_id: int
    member_no: str


async def register_member(
    profile: Profile, user_handle: str, passkey: NewPasskey, passkey_name: str, member_no_prefix: str,
    campaign_id: int | None = None,
) -> Registered:
    """Account, member, followed areas and the first passkey in one transaction: all or nothing. `campaign_id`: the
    first campaign the person came by (app/services/campaigns/)."""
    now = clock.now()
    async with atomic(Account._meta.db):
        registered = await create_member(profile, user_handle, member_no_prefix, now, consent_version=PRIVACY_POLICY_VERSION,
                                         terms_version=TERMS_VERSION, logged_in=True, campaign_id=campaign_id)
        await passkey_row(registered.account_id, passkey, passkey_name).save()
    return registered


async def create_member(profile: Profile, user_handle: str, member_no_prefix: str, now, *, consent_version: str,
                        terms_version: str, logged_in: bool, external_id: str | None = None,
                        campaign_id: int | None = None) -> Registered:
    """The account, the member and the followed areas, in the caller's transaction. Registration adds the first
    passkey; a registrant import adds none (the person claims the account later with a one-time link). The
    versions are those of the privacy policy and the terms the person agreed to."""
    account = Account(
        role="member",
        display_name=profile.display_name,
        email=profile.email or None,
        webauthn_user_id=user_handle,
        created_at=now,
        last_login_at=now if logged_in else None,
        # Registering on screen is choosing that screen's language; an import has no screen.
        locale=current_locale.get() if logged_in else "",
    )
    await account.save()
    # The number comes from the row id, so it is unique without a counter; a placeholder fills the gap.
    member = Member(
        account=account.id,
        member_no=f"pending-{user_handle[:24]}",
        **member_values(profile),
        consent_version=consent_version,
        terms_version=terms_version,
        consent_at=now,
        created_at=now,
        external_id=external_id,
        campaign=campaign_id,
        digest_since=now if profile.digest else None,
    )
    await member.save()
    member_no = format_member_no(member_no_prefix, member.id)
    await Member.update({Member.member_no: member_no}).where(Member.id == member.id)
    if profile.area_ids:
        await AreaFollow.insert(*[AreaFollow(member=member.id, area=area_id) for area_id in profile.area_ids])
    return Registered(account_id=account.id, member_id=member.id, member_no=member_no)


# Every member page reads the member (the card, the wallet and the account page their followed areas too): one
# statement each, written out once (the same text on SQLite and PostgreSQL), the member's columns listed from the
# table at import so a column added later is read too. Piccolo building the same joins cost ≈ 0.35 ms of CPU
# each, a page; these ≈ 0.05 ms.
_MEMBER_JSON_COLUMNS = [c._meta.db_column_name for c in Member._meta.columns if isinstance(c, JSON)]
MEMBER_SQL = f"""
SELECT {", ".join(f"m.{c._meta.db_column_name}" for c in Member._meta.columns)},
       a.email_verified_at AS "account.email_verified_at"
FROM member AS m LEFT JOIN account AS a ON a.id = m.account
WHERE m.account = {{}}
"""
FOLLOWED_AREAS_SQL = """
SELECT a.id, a.name FROM area_follow AS f JOIN area AS a ON a.id = f.area WHERE f.member = {} ORDER BY a.position
"""


async def member_for_account(account_id: int) -> dict | None:
    rows = await Member.raw(MEMBER_SQL, account_id)
    if not rows:
        return None
    member = rows[0]
    for name in _MEMBER_JSON_COLUMNS:
        if isinstance(member[name], str):
            member[name] = json.loads(member[name])
    return member


async def followed_areas(member_id: int) -> list[dict]:
    return await AreaFollow.raw(FOLLOWED_AREAS_SQL, member_id)


async def update_profile(account_id: int, profile: Profile) -> bool:
    """Save an edited profile. Returns True when the e-mail changed (it then needs confirming again)."""
    member = await Member.select(Member.id).where(Member.account == account_id).first()
    account = await Account.select(Account.email).where(Account.id == account_id).first()
    if member is None or account is None:
        return False
    email_changed = (account["email"] or "") != profile.email
    async with atomic(Account._meta.db):
        changes = {Account.display_name: profile.display_name}
        if email_changed:
            changes.update({Account.email: profile.email or None, Account.email_verified_at: None})
        await Account.update(changes).where(Account.id == account_id)
        await Member.update({getattr(Member, name): value for name, value in member_values(profile).items()}).where(
            Member.id == member["id"]
        )
        await AreaFollow.delete().where(AreaFollow.member == member["id"])
        if profile.area_ids:
            await AreaFollow.insert(*[AreaFollow(member=member["id"], area=a) for a in profile.area_ids])
    return email_changed


async def member_count() -> int:
    return await Member.count()


# How the staff's member list can be ordered: (column, ascending), the row id breaking ties.
MEMBER_ORDERS = {
    "newest": (Member.id, False), "oldest": (Member.id, True),
    "number": (Member.member_no, True), "name": (Member.account.display_name, True),
}


async def search_members(term: str, limit: int, offset: int = 0, order: str = "newest") -> list[dict]:
    """Members in `order` (newest first unless said), `limit` from `offset`; a term narrows them to those whose
    number, name or e-mail contains it."""
    column, ascending = MEMBER_ORDERS.get(order, MEMBER_ORDERS["newest"])
    query = Member.select(
        Member.id, Member.member_no, Member.tier, Member.premium_until, Member.home_prefecture, Member.created_at,
        Member.account.display_name, Member.account.status,
    ).order_by(column, ascending=ascending).order_by(Member.id, ascending=ascending).limit(limit).offset(offset)
    if term:
        like = contains_pattern(term)
        query = query.where(
            Member.member_no.ilike(like) | Member.account.display_name.ilike(like) | Member.account.email.ilike(like)
        )
    return await query


async def member_details(member_id: int) -> dict | None:
    """A member with their account's name, e-mail, confirmation, status and id, for the secretariat."""
    return await Member.select(
        *Member.all_columns(), Member.account.display_name, Member.account.email, Member.account.email_verified_at,
        Member.account.status, Member.account.id,
    ).where(Member.id == member_id).first()


async def set_tier(staff_account_id: int, member_id: int, tier: str, premium_until: date | None) -> None:
    if tier not in TIERS:
        raise ValueError(tier)
    async with atomic(Member._meta.db):
        await Member.update(
            {Member.tier: tier, Member.premium_until: premium_until if tier == "premium" else None}
        ).where(Member.id == member_id)
        await AuditLog.insert(
            AuditLog(
                actor=staff_account_id,
                action="member.tier",
                target_type="member",
                target_id=str(member_id),
                detail={"tier": tier, "premium_until": premium_until.isoformat() if premium_until else None},
                created_at=clock.now(),
            )
        )


def effective_tier(member: dict, today: date) -> str:
    """Premium lapses after its renewal date (the national scheme renews it yearly); `today` is the date in
    Japan, so it lapses at midnight there."""
    if member["tier"] == "premium" and member["premium_until"] and member["premium_until"] >= today:
        return "premium"
    return "basic"


async def remember_locale(account_id: int, locale: str) -> None:
    """The language this person chose on screen, for what others' actions will tell them."""
    if locale in LOCALES:
        await Account.update({Account.locale: locale}).where(Account.id == account_id)


def chosen_locale(stored: str) -> str:
    """The language to write to a person in, from what their account keeps: the one they last chose, or the one
    of the screen that writes when they never chose (imported registrants, accounts from before)."""
    return stored if stored in LOCALES else current_locale.get()


@asynccontextmanager
async def in_locale_of(account_id: int | None) -> AsyncIterator[None]:
    """Words written to this person (a notice, a push, a mail) in their language (`chosen_locale`)."""
    row = await Account.select(Account.locale).where(Account.id == account_id).first() if account_id else None
    with in_locale(chosen_locale(row["locale"] if row else "")):
        yield
