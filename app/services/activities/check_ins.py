"""Check-ins at a designated activity: the member scans the activity's code (on the phone, with or without a
network), the organiser scans the member's card, or staff record one by hand with a reason.

The activity's code is a signed token (signed_tokens, kind check_in) for one activity and one day in Japan:
it expires at the next midnight, so the code on a poster changes daily and last week's photo does not work.
A phone with no network checks the signature and the day itself, keeps the check-in with a nonce of its own
and sends it when it is online again; the server checks everything again, with the phone's time of the
scan, and takes a check-in sent within SYNC_GRACE of the code's day. One check-in per member, activity and
day, whatever records it; the same nonce sent again gets the first answer.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from app.i18n import TOKYO, to_tokyo
from app.i18n import gettext as _
from app.services.activities.activities import ActivityRefused, activity_for
from app.services.membership.member_card import CARD_REFUSALS, card_holder
from app.services.shared import clock
from app.services.shared.actor import Actor
from app.services.shared.refusals import Refusal
from app.services.shared.signed_tokens import KINDS, VERSION, TokenError, TokenSigner
from app.services.shared.text import clean_text
from db.engine import atomic, is_row_id, is_unique_violation
from db.tables import Activity, AuditLog, CheckIn, Member

SYNC_GRACE = timedelta(days=3)  # a phone offline at the venue has three days to come online
CLOCK_SKEW = timedelta(minutes=10)  # a phone's clock may run this far off
CODE_VALIDITY = timedelta(days=1)  # a code is made for one day: valid from its expiry minus this
NONCE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MEMBER_NO = re.compile(r"^[A-Z0-9-]{1,32}$")
REASON_MAX = 300
PHONE_REFUSALS = ("damaged", "forged", "wrong_kind", "expired", "not_yet")  # what a phone decides on its own


class CheckInRefused(Refusal):
    """damaged | forged | wrong_kind | expired | not_yet | too_late | not_found | cancelled | outside_period |
    full | bad_nonce | unknown_member | reason_needed | bad_day | not_your_area; and for a scanned member card
    card_damaged | card_forged | card_wrong_kind | card_expired | card_unknown (worded as member_card words them)"""

    def messages(self):
        return {
            "damaged": _("The code could not be read. Scan it again."),
            "forged": _("This code was not issued by us."),
            "wrong_kind": _("This is not an activity's check-in code."),
            "expired": _("This check-in code is for another day. Scan today's code at the venue."),
            "not_yet": _("This check-in code is for a later day."),
            "too_late": _("This check-in was sent more than three days after the activity and cannot be recorded."),
            "not_found": _("This activity does not exist."),
            "cancelled": _("This activity was canceled."),
            "outside_period": _("The activity does not take place on this day."),
            "full": _("The activity is full."),
            "bad_nonce": _("The check-in could not be read. Scan the code again."),
            "unknown_member": _("No member has this number."),
            "reason_needed": _("Say why you record it by hand."),
            "bad_day": _("Enter a day of the activity."),
            "not_your_area": _("This activity belongs to another area."),
            **{f"card_{reason}": str(message) for reason, message in CARD_REFUSALS.items()},
        }


@dataclass(frozen=True)
class Recorded:
    activity_id: int
    title: str
    day: date
    first: bool  # False: the member was already checked in that day (or the same check-in was sent again)


def code_expires(day: date) -> datetime:
    """A day's code works until the next midnight in Japan."""
    return datetime.combine(day + timedelta(days=1), time(), TOKYO)


def code_for(signer: TokenSigner, activity_id: int, day: date) -> str:
    return signer.sign("check_in", activity_id, code_expires(day))


def phone_rules(signer: TokenSigner) -> dict:
    """What the check-in page needs to decide on the phone, before any network, as with_code() decides later:
    the public keys by key id (base64url), the token's version and kind, how long before its expiry a code
    starts to be valid, the clock skew allowed, and the words for what the phone refuses."""
    return {
        "version": VERSION,
        "kind": KINDS["check_in"],
        "keys": {str(key_id): base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
                 for key_id, raw in signer.public_keys().items()},
        "valid_ms": int(CODE_VALIDITY.total_seconds() * 1000),
        "skew_ms": int(CLOCK_SKEW.total_seconds() * 1000),
        "messages": {reason: CheckInRefused(reason).message for reason in PHONE_REFUSALS},
    }


async def with_code(signer: TokenSigner, code: str, member_id: int, nonce: str, scanned_at: datetime | None,
                    now: datetime | None = None) -> Recorded:
    """The member scanned the activity's code, now or (offline) at `scanned_at`. Raises CheckInRefused."""
    now = now or clock.now()
    if not NONCE.match(nonce or ""):
        raise CheckInRefused("bad_nonce")
    earlier = await _by_nonce(nonce)
    if earlier is not None:
        if earlier["member"] != member_id:
            raise CheckInRefused("bad_nonce")
        return Recorded(earlier["activity"], earlier["title"], earlier["day"], first=False)
    scanned_at = now if scanned_at is None or scanned_at > now else scanned_at
    try:
        claims = signer.verify(code, "check_in", scanned_at)
    except TokenError as exc:
        raise CheckInRefused(exc.reason) from None
    valid_from = claims.expires_at - CODE_VALIDITY
    if scanned_at < valid_from - CLOCK_SKEW:
        raise CheckInRefused("not_yet")
    if now > claims.expires_at + SYNC_GRACE:
        raise CheckInRefused("too_late")
    day = to_tokyo(valid_from).date()
    try:
        return await _record(claims.subject_id, member_id, day, "code", scanned_at, nonce=nonce)
    except Exception as exc:
        if not is_unique_violation(exc):
            raise
    # The same nonce sent twice at once: the other request recorded it
    earlier = await _by_nonce(nonce)
    if earlier is None or earlier["member"] != member_id:
        raise CheckInRefused("bad_nonce")
    return Recorded(earlier["activity"], earlier["title"], earlier["day"], first=False)


async def by_card(signer: TokenSigner, activity_id: int, card_code: str, actor: Actor,
                  now: datetime | None = None) -> tuple[Recorded, dict]:
    """The organiser scanned a member's card at the venue: checked in today. Returns the record and the member."""
    now = now or clock.now()
    await _managed(activity_id, actor)
    try:
        member = await card_holder(signer, card_code, now)
    except TokenError as exc:
        # Worded for a card, not for the activity's code: "expired" asks the member to open the card online.
        raise CheckInRefused(f"card_{exc.reason}", field="code") from None
    recorded = await _record(activity_id, member["id"], to_tokyo(now).date(), "card", now, recorded_by=actor.account_id)
    return recorded, member


async def by_hand(activity_id: int, member_no: str, day_text: str, reason: str, actor: Actor,
                  now: datetime | None = None) -> Recorded:
    """Staff (or the area's editor) record a check-in by hand, with a reason; audited."""
    now = now or clock.now()
    await _managed(activity_id, actor)
    reason = clean_text(reason)
    if not reason or len(reason) > REASON_MAX:
        raise CheckInRefused("reason_needed", field="reason")
    try:
        day = date.fromisoformat(day_text.strip())
    except ValueError:
        raise CheckInRefused("bad_day", field="day") from None
    member_no = member_no.strip().upper()
    # Only a member number's own characters reach the database (PostgreSQL refuses a NUL in a query).
    member = await Member.select(Member.id).where(Member.member_no == member_no).first() if MEMBER_NO.match(
        member_no) else None
    if member is None:
        raise CheckInRefused("unknown_member", field="member_no")
    recorded = await _record(activity_id, member["id"], day, "hand", now, recorded_by=actor.account_id, reason=reason)
    if recorded.first:
        check_in = await CheckIn.select(CheckIn.id).where(
            (CheckIn.activity == activity_id) & (CheckIn.member == member["id"]) & (CheckIn.day == day)).first()
        await AuditLog.insert(AuditLog(actor=actor.account_id, action="check_in.by_hand", target_type="check_in",
                                       target_id=str(check_in["id"]),
                                       detail={"activity": activity_id, "day": day.isoformat(), "reason": reason},
                                       created_at=now))
    return recorded


async def from_report(activity_id: int, member_id: int, day: date, joined_at: datetime, actor: Actor) -> Recorded:
    """A member found in an online meeting's participant report (meeting_report.py): checked in for the day they
    joined, by the same rule as every other way (once a day, within the period, the capacity)."""
    await _managed(activity_id, actor)
    return await _record(activity_id, member_id, day, "import", joined_at, recorded_by=actor.account_id)


async def _managed(activity_id: int, actor: Actor) -> None:
    try:
        await activity_for(activity_id, actor)
    except ActivityRefused as exc:
        raise CheckInRefused(exc.reason) from None


async def _by_nonce(nonce: str) -> dict | None:
    return await CheckIn.select(CheckIn.activity, CheckIn.member, CheckIn.day,
                                CheckIn.activity.title.as_alias("title")).where(CheckIn.client_nonce == nonce).first()


async def _record(activity_id: int, member_id: int, day: date, method: str, scanned_at: datetime, *,
                  nonce: str | None = None, recorded_by: int | None = None, reason: str = "") -> Recorded:
    """Record one check-in, or find the one already there. The activity's row is locked (PostgreSQL; SQLite
    writes one transaction at a time), so the capacity and the one-a-day rule are decided under it."""
    if not is_row_id(activity_id):
        raise CheckInRefused("not_found")
    async with atomic(Activity._meta.db):
        query = Activity.select(Activity.id, Activity.title, Activity.status, Activity.starts_on, Activity.ends_on,
                                Activity.capacity).where(Activity.id == activity_id)
        if Activity._meta.db.engine_type != "sqlite":
            query = query.lock_rows("UPDATE")
        activity = await query.first()
        if activity is None:
            raise CheckInRefused("not_found")
        if activity["status"] != "open":
            raise CheckInRefused("cancelled")
        if not activity["starts_on"] <= day <= activity["ends_on"]:
            raise CheckInRefused("outside_period", field="day")
        if await CheckIn.exists().where((CheckIn.activity == activity_id) & (CheckIn.member == member_id)
                                        & (CheckIn.day == day)):
            return Recorded(activity_id, activity["title"], day, first=False)
        if activity["capacity"] is not None and not await CheckIn.exists().where(
                (CheckIn.activity == activity_id) & (CheckIn.member == member_id)):
            members = await CheckIn.select(CheckIn.member).where(CheckIn.activity == activity_id).distinct()
            if len(members) >= activity["capacity"]:
                raise CheckInRefused("full")
        await CheckIn.insert(CheckIn(activity=activity_id, member=member_id, day=day, method=method, client_nonce=nonce,
                                     scanned_at=scanned_at, recorded_by=recorded_by, reason=reason[:REASON_MAX]))
    return Recorded(activity_id, activity["title"], day, first=True)


async def check_ins_of(activity_id: int, actor: Actor) -> list[dict]:
    """Who checked in, for the organiser: day, member number and name, how it was recorded."""
    await _managed(activity_id, actor)
    return await CheckIn.select(
        CheckIn.id, CheckIn.day, CheckIn.method, CheckIn.scanned_at, CheckIn.reason,
        CheckIn.member.member_no.as_alias("member_no"), CheckIn.member.account.display_name.as_alias("display_name"),
    ).where(CheckIn.activity == activity_id).order_by(CheckIn.day).order_by(CheckIn.id)
