"""The secretariat's steps on a travel-subsidy claim, and the list they work from.

submitted → approved (the amount claimed, or less with a note saying why) → paid (the day it was transferred);
submitted → returned (with what to correct; the member sends it again, claims.resubmit) → submitted;
submitted or returned → declined (with the reason).

Each step is a conditional UPDATE on the status it leaves, so two staff deciding at once give one decision; each
is audited, and the member is told on every channel they have (inbox, push, LINE and mail, notify/personal.py),
in the language they last chose, with a link to the claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from piccolo.query import Count as CountQuery
from piccolo.query.functions.aggregate import Count

from app.i18n import format_date, to_tokyo
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.services.membership.membership import in_locale_of
from app.services.notify import personal
from app.services.notify.personal import INBOX_AND_PUSH_ONLY, Told
from app.services.shared import clock
from app.services.shared.refusals import FormInvalid, Refusal
from app.services.shared.text import clean_text
from app.services.shared.yen import parse_yen
from app.services.subsidy.claims import claim_path
from db.engine import atomic, is_row_id
from db.tables import Application, AuditLog, TravelClaim

STATUS_LABELS = {  # as staff say it; members read claims.MEMBER_STATUS_LABELS
    "submitted": _l("Waiting for a check"),
    "returned": _l("Returned for a correction"),
    "approved": _l("Approved, to be paid"),
    "declined": _l("Declined"),
    "paid": _l("Paid"),
    "withdrawn": _l("Withdrawn"),
}
TABS = ("submitted", "returned", "approved", "paid", "declined")  # the list's tabs, in the order the work goes
NOTE_MAX = 1000
PAGE_SIZE = 50


class ReviewRefused(Refusal):
    """not_found | changed_meanwhile"""

    def messages(self):
        return {
            "not_found": _("This claim does not exist."),
            "changed_meanwhile": _("Someone dealt with this claim in the meantime. Its status is shown here."),
        }


def status_label(code: str) -> str:
    return str(STATUS_LABELS.get(code, code))


async def _claim(claim_id: int) -> dict:
    row = await TravelClaim.select(
        *TravelClaim.all_columns(), TravelClaim.program.title.as_alias("program_title"),
        TravelClaim.member.account.as_alias("account"), TravelClaim.member.account.email.as_alias("email"),
    ).where(TravelClaim.id == claim_id).first().output(load_json=True) if is_row_id(claim_id) else None
    if row is None:
        raise ReviewRefused("not_found")
    return row


def _note(text: str, required: bool, errors: dict[str, str], field: str = "note") -> str:
    note = clean_text(text)
    if required and not note:
        errors[field] = _("Write it for the member: they are told.")
    elif len(note) > NOTE_MAX:
        errors[field] = _("Write at most %(count)d characters.", count=NOTE_MAX)
    return note


async def _move(claim: dict, from_statuses: tuple[str, ...], changes: dict, actor_id: int, action: str, detail: dict,
                now: datetime) -> None:
    async with atomic(TravelClaim._meta.db):
        moved = await TravelClaim.update({**changes, TravelClaim.updated_at: now}).where(
            (TravelClaim.id == claim["id"]) & TravelClaim.status.is_in(list(from_statuses))).returning(TravelClaim.id)
        if not moved:
            raise ReviewRefused("changed_meanwhile")
        await AuditLog.insert(AuditLog(actor=actor_id, action=action, target_type="travel_claim",
                                       target_id=str(claim["id"]), detail=detail, created_at=now))


async def approve(claim_id: int, actor_id: int, amount_text: str, note_text: str, told: Told = INBOX_AND_PUSH_ONLY,
                  now: datetime | None = None) -> int:
    """Approve the amount claimed or less (then with a note saying why); returns the amount approved."""
    now = now or clock.now()
    claim = await _claim(claim_id)
    errors: dict[str, str] = {}
    amount = parse_yen(amount_text)
    if amount is None or not 0 < amount <= claim["amount"]:
        errors["amount"] = _("Approve at most the %(amount)s yen claimed, in whole yen.", amount=f"{claim['amount']:,}")
    note = _note(note_text, amount is not None and amount < claim["amount"], errors)
    if errors:
        raise FormInvalid(errors, {"amount": amount_text, "note": note_text})
    await _move(claim, ("submitted",), {TravelClaim.status: "approved", TravelClaim.approved_amount: amount,
                                        TravelClaim.note: note, TravelClaim.decided_by: actor_id,
                                        TravelClaim.decided_at: now}, actor_id, "travel_claim.approve",
                {"amount": amount, "claimed": claim["amount"], **({"note": note} if note else {})}, now)
    await _tell(claim, "approved", told, now, amount=amount, note=note)
    return amount


async def send_back(claim_id: int, actor_id: int, reason_text: str, told: Told = INBOX_AND_PUSH_ONLY,
                    now: datetime | None = None) -> None:
    """Return the claim for a correction, saying what to correct (a receipt that cannot be read, a wrong day)."""
    await _with_reason(claim_id, actor_id, reason_text, ("submitted",), "returned", "travel_claim.return", told, now)


async def decline(claim_id: int, actor_id: int, reason_text: str, told: Told = INBOX_AND_PUSH_ONLY,
                  now: datetime | None = None) -> None:
    """Decline with the reason the member is told (one waiting for the member's correction too)."""
    await _with_reason(claim_id, actor_id, reason_text, ("submitted", "returned"), "declined", "travel_claim.decline",
                       told, now)


async def _with_reason(claim_id: int, actor_id: int, reason_text: str, from_statuses: tuple[str, ...], status: str,
                       action: str, told: Told, now: datetime | None) -> None:
    """A step the member is told the reason for, in the secretariat's words: returned or declined."""
    now = now or clock.now()
    claim = await _claim(claim_id)
    errors: dict[str, str] = {}
    reason = _note(reason_text, True, errors, "reason")
    if errors:
        raise FormInvalid(errors, {"reason": reason_text})
    await _move(claim, from_statuses, {TravelClaim.status: status, TravelClaim.note: reason,
                                       TravelClaim.decided_by: actor_id, TravelClaim.decided_at: now},
                actor_id, action, {"reason": reason}, now)
    await _tell(claim, status, told, now, note=reason)


async def mark_paid(claim_id: int, actor_id: int, paid_on_text: str, told: Told = INBOX_AND_PUSH_ONLY,
                    now: datetime | None = None) -> date:
    """Record the day the approved amount was paid: not in the future, not before the approval."""
    now = now or clock.now()
    claim = await _claim(claim_id)
    today = to_tokyo(now).date()
    approved_on = to_tokyo(claim["decided_at"]).date() if claim["decided_at"] else today
    try:
        paid_on = date.fromisoformat(paid_on_text.strip())
    except ValueError:
        paid_on = None
    if paid_on is None or not approved_on <= paid_on <= today:
        raise FormInvalid({"paid_on": _("Enter the day it was paid, from the approval (%(first)s) to today.",
                                        first=format_date(approved_on))}, {"paid_on": paid_on_text})
    await _move(claim, ("approved",), {TravelClaim.status: "paid", TravelClaim.paid_on: paid_on,
                                       TravelClaim.paid_by: actor_id}, actor_id, "travel_claim.paid",
                {"amount": claim["approved_amount"], "paid_on": paid_on.isoformat()}, now)
    await _tell(claim, "paid", told, now, amount=claim["approved_amount"], paid_on=paid_on)
    return paid_on


def _message(change: str, title: str, claimed: int, amount: int | None, note: str, paid_on: date | None) -> tuple[str, str]:
    """What the member is told at each step: (title, text), in their words."""
    if change == "approved":
        text = _("%(amount)s yen is approved. We tell you when it has been paid.", amount=f"{amount:,}")
        if amount < claimed:
            text = _("%(amount)s yen of the %(claimed)s yen claimed is approved: %(note)s", amount=f"{amount:,}",
                     claimed=f"{claimed:,}", note=note) + " " + _("We tell you when it has been paid.")
        elif note:
            text += " " + note
        return _("Travel subsidy approved: %(title)s", title=title), text
    if change == "returned":
        return (_("Please correct your travel subsidy claim: %(title)s", title=title),
                note + " " + _("Correct the claim and send it again from its page."))
    if change == "declined":
        return _("Your travel subsidy claim was not approved: %(title)s", title=title), note
    return (_("Travel subsidy paid: %(title)s", title=title),
            _("%(amount)s yen was paid on %(day)s.", amount=f"{amount:,}", day=f"{paid_on:%Y/%m/%d}"))


async def _tell(claim: dict, change: str, told: Told, now: datetime | None, amount: int | None = None, note: str = "",
                paid_on: date | None = None) -> None:
    async with in_locale_of(claim["account"]):
        title, body = _message(change, claim["program_title"], claim["amount"], amount, note, paid_on)
    await personal.tell_by(told, claim["account"], title, body, claim_path(claim["id"]), claim["email"] or "",
                           "travel_claim", now)


# The list staff work from -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimFilter:
    """Which claims the list shows: one fiscal year, one area or program (or all), one status (or all)."""

    fiscal_year: int
    area_id: int | None = None
    program_id: int | None = None
    status: str = ""

    def where(self):
        condition = TravelClaim.fiscal_year == self.fiscal_year
        if self.area_id is not None:
            condition &= TravelClaim.program.area == self.area_id
        if self.program_id is not None:
            condition &= TravelClaim.program == self.program_id
        return condition


LIST_COLUMNS = (
    TravelClaim.program.title.as_alias("program_title"), TravelClaim.program.area.name.as_alias("area_name"),
    TravelClaim.member.member_no.as_alias("member_no"), TravelClaim.member.family_name.as_alias("family_name"),
    TravelClaim.member.given_name.as_alias("given_name"),
    TravelClaim.member.account.display_name.as_alias("display_name"),
)


async def claims(view: ClaimFilter, limit: int | None = PAGE_SIZE, offset: int = 0) -> list[dict]:
    """The claims of the view: those waiting, the longest-waiting first; the others, the latest change first."""
    query = TravelClaim.select(*TravelClaim.all_columns(), *LIST_COLUMNS).where(view.where())
    if view.status:
        query = query.where(TravelClaim.status == view.status)
    if view.status in ("submitted", "returned"):
        query = query.order_by(TravelClaim.updated_at).order_by(TravelClaim.id)
    else:
        query = query.order_by(TravelClaim.updated_at, ascending=False).order_by(TravelClaim.id, ascending=False)
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return await query.output(load_json=True)


async def status_counts(view: ClaimFilter) -> dict[str, int]:
    rows = await TravelClaim.select(TravelClaim.status, Count()).where(view.where()).group_by(TravelClaim.status)
    return {row["status"]: row["count"] for row in rows}


def waiting_count() -> CountQuery:
    """Claims waiting for a check, whatever their year (a query: awaited, the number; attention.counts sends it
    with the console's other counts as one statement)."""
    return TravelClaim.count().where(TravelClaim.status == "submitted")


async def claim(claim_id: int) -> dict | None:
    """One claim as staff check it: the member (names, number, home), the program, the attendance it rests on."""
    if not is_row_id(claim_id):
        return None
    row = await TravelClaim.select(
        *TravelClaim.all_columns(), *LIST_COLUMNS, TravelClaim.program.starts_at.as_alias("starts_at"),
        TravelClaim.program.ends_at.as_alias("ends_at"), TravelClaim.program.area.as_alias("area"),
        TravelClaim.member.family_name_kana.as_alias("family_name_kana"),
        TravelClaim.member.given_name_kana.as_alias("given_name_kana"),
        TravelClaim.member.home_prefecture.as_alias("home_prefecture"),
        TravelClaim.member.home_municipality.as_alias("home_municipality"),
        TravelClaim.decided_by.display_name.as_alias("decided_by_name"),
        TravelClaim.paid_by.display_name.as_alias("paid_by_name"),
    ).where(TravelClaim.id == claim_id).first().output(load_json=True)
    if row is None:
        return None
    attended = await Application.select(Application.attended_at).where(
        (Application.program == row["program"]) & (Application.member == row["member"])
        & (Application.status == "attended")).first()
    return {**row, "attended_at": attended["attended_at"] if attended else None}


async def history(claim_id: int) -> list[dict]:
    """Who filed, corrected, approved, returned, declined or paid the claim, and when, oldest first."""
    return await AuditLog.select(
        AuditLog.action, AuditLog.detail, AuditLog.created_at, AuditLog.actor.display_name.as_alias("actor_name"),
    ).where((AuditLog.target_type == "travel_claim") & (AuditLog.target_id == str(claim_id))).order_by(
        AuditLog.id).output(load_json=True)
