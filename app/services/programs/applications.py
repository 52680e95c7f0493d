"""Applications to a program: applying once (a seat if one is free, otherwise the waiting list), cancelling,
and the decisions of editors and staff; a seat that comes free goes to the longest-waiting member, who is told.

The seat counter (`Program.seats_taken`) only moves by conditional UPDATEs inside the transaction that moves
the application, so it always equals the accepted and attended applications and never exceeds the capacity.
"""

from __future__ import annotations

from datetime import datetime

from app.i18n import gettext as _
from app.i18n import to_tokyo
from app.services.membership.membership import effective_tier, in_locale_of
from app.services.notify import notices, personal
from app.services.programs.programs import PUBLIC_STATUSES, program_path
from app.services.shared.actor import Actor
from app.services.shared.refusals import Refusal
from db.engine import atomic, is_unique_violation
from db.tables import Application, AuditLog, Member, Program

SEAT_STATUSES = ("accepted", "attended")
MOTIVATION_MAX, ANSWER_MAX = 2000, 1000


class ApplicationRefused(Refusal):
    """An application (or its cancellation) is not possible now; `field` when one answer is the cause."""


def opens_at(program: dict, premium: bool = False) -> datetime:
    """When applications open for this person: a premium member from the program's early date, if it has one
    (the premium tier's perk of priority, without holding seats apart from the waiting list's order)."""
    early = program.get("premium_apply_from")
    return early if premium and early is not None and early < program["apply_from"] else program["apply_from"]


def is_open(program: dict, now: datetime, premium: bool = False) -> bool:
    return program["status"] == "published" and opens_at(program, premium) <= now <= program["apply_until"]


async def is_premium(member_id: int | None, now: datetime) -> bool:
    """Whether premium holds for the member today in Japan."""
    member = await Member.select(Member.tier, Member.premium_until).where(Member.id == member_id).first() \
        if member_id else None
    return member is not None and effective_tier(member, to_tokyo(now).date()) == "premium"


def _change_message(change: str, title: str) -> tuple[str, str]:
    """What the member is told when their application changes: (title, text), in their words, not staff's."""
    if change == "accepted":
        return _("Application received: %(title)s", title=title), _("You are accepted. The program page has the details.")
    if change == "waitlisted":
        return _("On the waiting list: %(title)s", title=title), _("We will tell you if a place opens up.")
    if change == "cancelled":
        return _("Application canceled: %(title)s", title=title), _("You can apply again while applications are open.")
    if change == "promoted":
        return _("A place opened up: %(title)s", title=title), _("You were on the waiting list and are now accepted.")
    if change == "decided_accepted":
        return _("You are accepted: %(title)s", title=title), _("The program page has the details.")
    if change == "decided_waitlisted":
        return _("Moved to the waiting list: %(title)s", title=title), _("We will tell you if a place opens up.")
    return (_("We cannot offer you a place this time: %(title)s", title=title),
            _("Thank you for applying. We hope to see you at another program."))


async def _tell_member(account_id: int, change: str, program_id: int, title: str, now: datetime) -> None:
    """Inside the transaction that made the change. What the member did themselves goes to their inbox; what
    someone else decided (or a seat that came free) is also pushed to their devices (app/services/notify/personal.py)."""
    async with in_locale_of(account_id):
        heading, text = _change_message(change, title)
    if change in ("accepted", "waitlisted", "cancelled"):
        await notices.notify(account_id, heading, text, url=program_path(program_id), now=now)
    else:
        await personal.tell(account_id, heading, text, program_path(program_id), now=now)


async def apply(program_id: int, member_id: int, motivation: str, answers: list[str], now: datetime,
                campaign_id: int | None = None) -> str:
    """Apply once. A seat if one is free (taken by a conditional UPDATE), otherwise the waitlist. `campaign_id`: the
    first campaign the member came by (app/services/campaigns/)."""
    program = await Program.select().where(Program.id == program_id).first().output(load_json=True)
    if program is None or program["status"] not in PUBLIC_STATUSES:
        raise ApplicationRefused("not_found")
    if not is_open(program, now, await is_premium(member_id, now)):
        raise ApplicationRefused("not_open")
    motivation = motivation.strip()
    if len(motivation) > MOTIVATION_MAX:
        raise ApplicationRefused("too_long", "motivation")
    answers = [a.strip() for a in answers][: len(program["questions"])]
    answers += [""] * (len(program["questions"]) - len(answers))
    for index, answer in enumerate(answers):
        if len(answer) > ANSWER_MAX:
            raise ApplicationRefused("too_long", f"answer_{index}")
    try:
        async with atomic(Program._meta.db):
            seat = await Program.update({Program.seats_taken: Program.seats_taken + 1}).where(
                (Program.id == program_id) & (Program.seats_taken < Program.capacity)
            ).returning(Program.id)
            status = "accepted" if seat else "waitlisted"
            await Application.insert(
                Application(program=program_id, member=member_id, status=status, motivation=motivation,
                            answers=answers, created_at=now, updated_at=now, campaign=campaign_id)
            )
            member = await Member.select(Member.account).where(Member.id == member_id).first()
            await _tell_member(member["account"], status, program_id, program["title"], now)
    except Exception as exc:
        if is_unique_violation(exc):
            raise ApplicationRefused("already_applied") from None
        raise
    return status


async def _promote_first_waitlisted(program_id: int, now: datetime) -> int | None:
    """Inside a transaction: give a freed seat to the longest-waiting member, and tell them."""
    while True:
        first = await Application.select(Application.id, Application.member.account.as_alias("account")).where(
            (Application.program == program_id) & (Application.status == "waitlisted")
        ).order_by(Application.created_at).order_by(Application.id).first()
        if first is None:
            return None
        seat = await Program.update({Program.seats_taken: Program.seats_taken + 1}).where(
            (Program.id == program_id) & (Program.seats_taken < Program.capacity)
        ).returning(Program.title)
        if not seat:
            return None
        promoted = await Application.update({Application.status: "accepted", Application.updated_at: now}).where(
            (Application.id == first["id"]) & (Application.status == "waitlisted")
        ).returning(Application.id)
        if promoted:
            break
        # (PostgreSQL, read committed) that member left the waitlist after our read: seat back, try the next one.
        await Program.update({Program.seats_taken: Program.seats_taken - 1}).where(Program.id == program_id)
    await _tell_member(first["account"], "promoted", program_id, seat[0]["title"], now)
    return first["id"]


async def _leave_seat(application: dict, new_status: str, now: datetime) -> None:
    """Inside a transaction: move an application off its seat (or off the waitlist) and refill the seat."""
    moved = await Application.update({Application.status: new_status, Application.updated_at: now}).where(
        (Application.id == application["id"]) & (Application.status == application["status"])
    ).returning(Application.id)
    if not moved:
        raise ApplicationRefused("changed_meanwhile")
    if application["status"] == "accepted":
        await Program.update({Program.seats_taken: Program.seats_taken - 1}).where(
            (Program.id == application["program"]) & (Program.seats_taken > 0)
        )
        if new_status != "waitlisted":
            await _promote_first_waitlisted(application["program"], now)


async def cancel(application_id: int, member_id: int, now: datetime) -> None:
    application = await Application.select(
        *Application.all_columns(), Application.member.account.as_alias("account"),
        Application.program.title.as_alias("title"),
    ).where((Application.id == application_id) & (Application.member == member_id)).first()
    if application is None:
        raise ApplicationRefused("not_found")
    if application["status"] not in ("accepted", "waitlisted"):
        raise ApplicationRefused("not_cancellable")
    async with atomic(Application._meta.db):
        await _leave_seat(application, "cancelled", now)
        await _tell_member(application["account"], "cancelled", application["program"], application["title"], now)


async def decide(application_id: int, actor: Actor, decision: str, now: datetime) -> None:
    """An editor or staff accepts, rejects, moves to the waitlist, or marks attendance."""
    application = await Application.select(
        *Application.all_columns(), Application.program.area.as_alias("area"), Application.program.title.as_alias("title"),
        Application.member.account.as_alias("account"),
    ).where(Application.id == application_id).first()
    if application is None:
        raise ApplicationRefused("not_found")
    if actor.outside_area(application["area"]):
        raise ApplicationRefused("not_your_area")
    current = application["status"]
    async with atomic(Application._meta.db):
        if decision == "accept" and current == "waitlisted":
            seat = await Program.update({Program.seats_taken: Program.seats_taken + 1}).where(
                (Program.id == application["program"]) & (Program.seats_taken < Program.capacity)
            ).returning(Program.id)
            if not seat:
                raise ApplicationRefused("full")
            # Read before the transaction: if the member left the waitlist meanwhile, the seat goes back (rollback).
            moved = await Application.update({Application.status: "accepted", Application.updated_at: now}).where(
                (Application.id == application_id) & (Application.status == "waitlisted")
            ).returning(Application.id)
            if not moved:
                raise ApplicationRefused("changed_meanwhile")
        elif decision == "reject" and current in ("accepted", "waitlisted"):
            await _leave_seat(application, "rejected", now)
        elif decision == "waitlist" and current == "accepted":
            await _leave_seat(application, "waitlisted", now)
        elif decision == "attend" and current == "accepted":
            moved = await Application.update(
                {Application.status: "attended", Application.attended_at: now, Application.updated_at: now}
            ).where((Application.id == application_id) & (Application.status == "accepted")).returning(Application.id)
            if not moved:
                raise ApplicationRefused("changed_meanwhile")
        else:
            raise ApplicationRefused("not_allowed")
        change = {"accept": "decided_accepted", "reject": "rejected", "waitlist": "decided_waitlisted"}.get(decision)
        if change:  # attendance is recorded at the venue, with the member there: nothing to tell
            await _tell_member(application["account"], change, application["program"], application["title"], now)
        await AuditLog.insert(
            AuditLog(actor=actor.account_id, action="application.status", target_type="application",
                     target_id=str(application_id), detail={"from": current, "decision": decision}, created_at=now)
        )
