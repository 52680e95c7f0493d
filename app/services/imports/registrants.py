"""Registrant import: people registered elsewhere (the national ふるさと住民 system, the municipality's current
registration form or CRM) become members here, or are recognised as members already here.

Where the people come from is behind one small interface, `RegistrantSource` (sources.py): anything that
yields `Registrant` records. Today that is a CSV file with the columns the staff mapped (`CsvRegistrants`); an
API client for the national system can replace it without touching the rules below.

The rules, for each record in order:
- a record is recognised as a member by the source's id (if the file has one), else by e-mail address, else
  by name and kana together; two members fitting the same name and kana are not guessed between;
- a record naming the same person as an earlier one of the same file is skipped (a duplicate);
- a new person needs a name, and something a second import recognises them by (an id, an e-mail address or
  the name in kana): so running the same file again creates nothing new;
- a new person becomes an account without a passkey: nothing of theirs is shown anywhere and nobody can log
  in as them until they claim it. With an e-mail address they are mailed a one-time claim link (a recovery
  link with a longer life): in the same transaction as the account, so exactly once per account;
- a recognised member's profile is theirs and is not changed; only the source's id is recorded on them when
  they have none, so the next import finds them by it.

The preview (the dry run) applies these rules and writes nothing. The run applies them again, on the data
as it is then, with one transaction per new person rather than one for the file: a refused or failing row
must not undo hundreds of good ones, and a run stopped half-way is finished by running the file again (what
was created is recognised). The import is written to the audit log once, with its counts.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from app.i18n import gettext as _
from app.i18n import in_locale
from app.services.imports.columns import FIELDS
from app.services.imports.reader import row_problem_message
from app.services.imports.sources import Registrant, RegistrantSource
from app.services.membership import one_time_links
from app.services.membership.membership import (
    DISPLAY_NAME_MAX,
    EMAIL_MAX,
    EMAIL_PATTERN,
    NAME_MAX,
    Profile,
    create_member,
)
from app.services.membership.passkeys import new_user_handle
from app.services.notify import outbox
from app.services.shared import clock, erased
from app.services.shared.reference import PREFECTURE_CODES, PREFECTURES
from app.services.shared.text import KANA_PATTERN
from app.settings import Smtp
from db.engine import atomic, is_unique_violation
from db.tables import AuditLog, Member

CLAIM_TTL = timedelta(days=14)
CONSENT_VERSION = "import"  # consent was given to the source system; the member's own is asked when they claim
EXTERNAL_ID_MAX = 64
PREVIEW_ROWS = 300  # the preview lists every problem but at most this many of the other rows


# Checking one record -------------------------------------------------------------------------------------


PROBLEMS = ("unreadable", "ragged", "bad_email", "too_long", "bad_kana", "bad_prefecture", "no_name", "no_key",
            "ambiguous", "changed", "erased")


def problem_messages() -> dict[str, str]:
    return {
        "unreadable": row_problem_message("unreadable"),
        "ragged": row_problem_message("ragged"),
        "bad_email": _("The e-mail address is not valid."),
        "erased": _("This person deleted their account here: they are not imported again."),
        "too_long": _("A value is too long (names: at most %(max)d characters).", max=NAME_MAX),
        "bad_kana": _("The reading is not in kana."),
        "bad_prefecture": _("The prefecture is not one we know."),
        "no_name": _("A new member needs a name."),
        "no_key": _("A new member needs an e-mail address, an ID or the name in kana, so that a second import "
                    "recognises them."),
        "ambiguous": _("Several members have this name and reading. Add the e-mail address or the ID to the file."),
        "changed": _("This row could not be imported because the data changed meanwhile. Run the import again."),
    }


PREFECTURE_BY_NAME = {
    **{ja: code for code, ja, _en in PREFECTURES},
    **{ja.rstrip("都府県") if code not in ("01", "99") else ja: code for code, ja, _en in PREFECTURES},
    **{en.lower(): code for code, _ja, en in PREFECTURES},
}


def prefecture_code(text: str) -> str | None:
    """A prefecture as files write it (13, 東京都, 東京, Tokyo) as its code; "" for none, None if unknown."""
    text = text.strip()
    if not text:
        return ""
    if text.isdecimal() and len(text) <= 2:
        code = text.zfill(2)
        return code if code in PREFECTURE_CODES else None
    return PREFECTURE_BY_NAME.get(text) or PREFECTURE_BY_NAME.get(text.lower())


def _problems(person: Registrant) -> list[str]:
    """What is wrong with the record whatever it matches."""
    if person.unreadable:
        return [person.unreadable]
    found = []
    if person.email and (len(person.email) > EMAIL_MAX or not EMAIL_PATTERN.match(person.email)):
        found.append("bad_email")
    names = (person.family_name, person.given_name, person.family_name_kana, person.given_name_kana,
             person.home_municipality, person.display_name)
    if any(len(value) > NAME_MAX for value in names) or len(person.external_id) > EXTERNAL_ID_MAX:
        found.append("too_long")
    if any(kana and not KANA_PATTERN.match(kana) for kana in (person.family_name_kana, person.given_name_kana)):
        found.append("bad_kana")
    if prefecture_code(person.home_prefecture) is None:
        found.append("bad_prefecture")
    return found


def _name_key(person: Registrant | dict) -> str:
    """Name and reading together, the way people write them differently: no spaces, katakana as hiragana."""
    get = person.get if isinstance(person, dict) else lambda name: getattr(person, name)
    kana = unicodedata.normalize("NFKC", f"{get('family_name_kana')}{get('given_name_kana')}")
    kana = "".join(chr(ord(ch) - 0x60) if "\u30a1" <= ch <= "\u30f6" else ch for ch in kana if not ch.isspace())
    name = "".join(ch for ch in unicodedata.normalize("NFKC", f"{get('family_name')}{get('given_name')}")
                   if not ch.isspace())
    return f"{name}|{kana}" if name and kana else ""


# The preview --------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What importing one record does: new | match | duplicate | error."""

    person: Registrant
    kind: str
    member: dict | None = None  # the member recognised: id, member_no, display_name
    matched_by: str = ""  # external_id | email | name
    link_id: bool = False  # the source's id is recorded on the recognised member
    problems: list[str] = field(default_factory=list)
    same_as: int | None = None  # a duplicate: the row it repeats

    @property
    def row(self) -> int:
        return self.person.row


@dataclass
class Preview:
    outcomes: list[Outcome]

    def count(self, kind: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.kind == kind)

    @property
    def counts(self) -> dict[str, int]:
        return {kind: self.count(kind) for kind in ("new", "match", "duplicate", "error")} | {
            "rows": len(self.outcomes), "mails": sum(1 for o in self.outcomes if o.kind == "new" and o.person.email)}

    def shown(self) -> list[Outcome]:
        """Every problem, then the first PREVIEW_ROWS other rows."""
        return [o for o in self.outcomes if o.kind == "error"] + [o for o in self.outcomes if o.kind != "error"][:PREVIEW_ROWS]


class _Members:
    """The members a record can be recognised as, indexed once per preview (a municipality has thousands)."""

    def __init__(self, rows: list[dict], erased_keys: set[str] | None = None) -> None:
        self.erased = erased_keys or set()
        self.by_id: dict[str, dict] = {}
        self.by_email: dict[str, list[dict]] = {}
        self.by_name: dict[str, list[dict]] = {}
        for row in rows:
            member = {"id": row["id"], "member_no": row["member_no"], "display_name": row["display_name"],
                      "external_id": row["external_id"]}
            if row["external_id"]:
                self.by_id[row["external_id"]] = member
            if row["email"]:
                self.by_email.setdefault(row["email"].lower(), []).append(member)
            key = _name_key(row)
            if key:
                self.by_name.setdefault(key, []).append(member)

    @classmethod
    async def load(cls) -> _Members:
        rows = await Member.select(
            Member.id, Member.member_no, Member.external_id, Member.family_name, Member.given_name,
            Member.family_name_kana, Member.given_name_kana, Member.account.email.as_alias("email"),
            Member.account.display_name.as_alias("display_name"),
        ).where(Member.account.status == "active")
        return cls(rows, await erased.erased_keys())

    def erased_before(self, person: Registrant) -> bool:
        """The record names someone who deleted their account (by source id or address)."""
        return ((bool(person.external_id) and erased.key_hash("id", person.external_id) in self.erased)
                or (bool(person.email) and erased.key_hash("email", person.email) in self.erased))

    def find(self, person: Registrant) -> tuple[dict | None, str, bool]:
        """(member, how, ambiguous)."""
        if person.external_id and person.external_id in self.by_id:
            return self.by_id[person.external_id], "external_id", False
        for how, found in (("email", self.by_email.get(person.email) if person.email else None),
                           ("name", self.by_name.get(_name_key(person)))):
            if found:
                return (found[0], how, False) if len(found) == 1 else (None, how, True)
        return None, "", False


def _keys(person: Registrant) -> list[str]:
    return [key for key in (f"id:{person.external_id}" if person.external_id else "",
                            f"email:{person.email}" if person.email else "",
                            f"name:{_name_key(person)}" if _name_key(person) else "") if key]


async def preview(source: RegistrantSource) -> Preview:
    """The dry run: what a run would do with each record now. Writes nothing."""
    members = await _Members.load()
    seen: dict[str, int] = {}
    outcomes = []
    for person in source.registrants():
        outcomes.append(_outcome(person, members, seen))
    return Preview(outcomes)


def _outcome(person: Registrant, members: _Members, seen: dict[str, int]) -> Outcome:
    problems = _problems(person)
    if problems:
        return Outcome(person, "error", problems=problems)
    keys = _keys(person)
    earlier = next((seen[key] for key in keys if key in seen), None)
    for key in keys:
        seen.setdefault(key, person.row)
    if earlier is not None:
        return Outcome(person, "duplicate", same_as=earlier)
    member, how, ambiguous = members.find(person)
    if member is None and members.erased_before(person):
        return Outcome(person, "error", problems=["erased"])
    if ambiguous:
        return Outcome(person, "error", problems=["ambiguous"])
    if member is not None:
        # Found by e-mail or name (an id already known would have found them first): the id is new to us.
        link = bool(person.external_id) and not member["external_id"]
        return Outcome(person, "match", member=member, matched_by=how, link_id=link)
    if not (person.family_name or person.display_name):
        return Outcome(person, "error", problems=["no_name"])
    if not (person.external_id or person.email or _name_key(person)):
        return Outcome(person, "error", problems=["no_key"])
    return Outcome(person, "new")


# The run ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimMail:
    """What the claim mail needs besides the person: the mail server, the site's name, and the link to a
    recovery token (the route knows its own address)."""

    smtp: Smtp
    site_name: str
    link_for: Callable[[str], str]
    locale: str = "ja"  # the site's default: the person has never chosen a language here


@dataclass
class RunResult:
    audit_id: int
    counts: dict[str, int]
    outcomes: list[Outcome]


async def run(source: RegistrantSource, actor_id: int | None, member_no_prefix: str, claim: ClaimMail,
              now: datetime | None = None, details: dict | None = None) -> RunResult:
    """Import for real. Returns the counts (created, linked, matched, duplicate, error, mails) and the audit
    entry's id."""
    now = now or clock.now()
    planned = await preview(source)
    counts = {"rows": len(planned.outcomes), "created": 0, "matched": 0, "linked": 0, "duplicate": 0, "error": 0,
              "mails": 0}
    created_ids: list[int] = []
    outcomes = []
    for outcome in planned.outcomes:
        if outcome.kind == "new":
            outcome = await _create(outcome, member_no_prefix, claim, now)
            if outcome.kind == "new":
                counts["created"] += 1
                counts["mails"] += bool(outcome.person.email)
                created_ids.append(outcome.member["id"])
        elif outcome.kind == "match":
            counts["matched"] += 1
            if outcome.link_id:
                outcome = await _link(outcome)
                counts["linked"] += outcome.link_id
        if outcome.kind in ("duplicate", "error"):
            counts[outcome.kind] += 1
        outcomes.append(outcome)
    entry = await AuditLog.insert(AuditLog(
        actor=actor_id, action="import.registrants", target_type="import", target_id=source.fingerprint[:16],
        detail={"source": source.label, "sha256": source.fingerprint, **counts, "members": created_ids,
                "problem_rows": [o.row for o in outcomes if o.kind == "error"][:500], **(details or {})},
        created_at=now,
    )).returning(AuditLog.id)
    return RunResult(entry[0]["id"], counts, outcomes)


def _profile(person: Registrant) -> Profile:
    full = " ".join(part for part in (person.family_name, person.given_name) if part)
    return Profile(
        display_name=(person.display_name or full)[:DISPLAY_NAME_MAX], family_name=person.family_name,
        given_name=person.given_name, family_name_kana=person.family_name_kana, given_name_kana=person.given_name_kana,
        email=person.email, home_prefecture=prefecture_code(person.home_prefecture) or "",
        home_municipality=person.home_municipality,
    )


async def _create(outcome: Outcome, member_no_prefix: str, claim: ClaimMail, now: datetime) -> Outcome:
    person = outcome.person
    profile = _profile(person)
    try:
        async with atomic(Member._meta.db):
            made = await create_member(profile, new_user_handle(), member_no_prefix, now, consent_version=CONSENT_VERSION,
                                       terms_version=CONSENT_VERSION, logged_in=False, external_id=person.external_id or None)
            if person.email:
                token = await one_time_links.issue("recovery", made.account_id, email=person.email, ttl=CLAIM_TTL)
                with in_locale(claim.locale):
                    subject, body = claim_mail(profile.display_name, claim.site_name, claim.link_for(token))
                await outbox.enqueue(claim.smtp, person.email, subject, body, "import_claim", now=now)
    except Exception as exc:
        # Another run (or a member's own edit) took the id meanwhile: the unique index said no, nothing was made.
        if not is_unique_violation(exc):
            raise
        return replace(outcome, kind="error", problems=["changed"])
    return replace(outcome, member={"id": made.member_id, "member_no": made.member_no,
                                    "display_name": profile.display_name})


async def _link(outcome: Outcome) -> Outcome:
    """Record the source's id on a recognised member who has none (a conditional UPDATE: never overwritten)."""
    try:
        rows = await Member.update({Member.external_id: outcome.person.external_id}).where(
            (Member.id == outcome.member["id"]) & Member.external_id.is_null()).returning(Member.id)
    except Exception as exc:
        if not is_unique_violation(exc):
            raise
        return replace(outcome, link_id=False)
    return replace(outcome, link_id=bool(rows))


def claim_mail(name: str, site: str, link: str) -> tuple[str, str]:
    days = CLAIM_TTL.days
    subject = _("[%(site)s] Your furusato resident registration: set up your sign-in", site=site)
    body = _(
        "Dear %(name)s,\n\nYou are registered with %(site)s as a furusato resident: your registration was taken over "
        "from the municipality's registration list.\n\nTo use your member card and the app, open this link within "
        "%(days)d days and set up a passkey (you sign in with your phone's fingerprint, face or screen lock; there is "
        "no password):\n%(link)s\n\nThe link works once. Until you set up a passkey, nobody can sign in to the account "
        "and nothing of yours is shown to anyone. If you do not want to use the app, ignore this mail.\n\n%(site)s",
        name=name, site=site, link=link, days=days,
    )
    return subject, body


def field_labels() -> dict[str, str]:
    return {name: str(label) for name, label in FIELDS.items()}


async def import_entry(audit_id: int) -> dict | None:
    """A finished import as the audit log keeps it (who, when, which file, the counts), for its result page."""
    return await AuditLog.select(AuditLog.id, AuditLog.created_at, AuditLog.detail,
                                 AuditLog.actor.display_name.as_alias("actor_name")).where(
        (AuditLog.id == audit_id) & (AuditLog.action == "import.registrants")).first().output(load_json=True)
