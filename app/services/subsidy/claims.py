"""A participant's claim under the travel subsidy: filed in the app once their attendance is recorded, with the
trip (from where, which way, the days there and back, the means of transport), the fare and its receipts.

What is refused, and why:
- before attendance is recorded, after the program's deadline, a second claim for the same program (a unique
  index, so a double tap or a second device files one), a means of transport the program does not cover;
- a trip that does not take in the program (leaving after it ended, back before it began) or that is not over yet,
  and one more than a week either side of it: a wrong year or month typed, which staff would only send back.

A fare above the program's maximum is not refused: the member types what they paid, as the receipts show it,
and the claim is for the maximum, which the form and the claim say in so many words. The secretariat checks the
receipts against the fare; a fare lowered to fit would not match them.

A claim the secretariat returns for a correction is corrected and sent again by the member (after the deadline
too: it was filed in time); new receipts replace the earlier ones. The staff's side is in review.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from app.i18n import format_date, to_tokyo
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.services.membership.membership import in_locale_of
from app.services.notify import notices
from app.services.programs.activities import fiscal_year_of
from app.services.shared import uploads
from app.services.shared.refusals import FormInvalid, Refusal
from app.services.shared.text import clean_text
from app.services.shared.yen import parse_yen
from app.services.subsidy.rules import SubsidyRules, rules_of, transport_labels
from db.engine import atomic, is_row_id, is_unique_violation
from db.tables import Application, AuditLog, Member, Program, TravelClaim, TravelSubsidy

STATUSES = ("submitted", "returned", "approved", "declined", "paid", "withdrawn")
# What the member reads; staff read review.STATUS_LABELS.
MEMBER_STATUS_LABELS = {
    "submitted": _l("Being checked by the secretariat"),
    "returned": _l("Please correct and send again"),
    "approved": _l("Approved; payment to follow"),
    "declined": _l("Not approved"),
    "paid": _l("Paid"),
    "withdrawn": _l("Withdrawn"),
}
MAX_RECEIPTS = 3
DEPARTURE_MAX, ROUTE_MAX = 100, 500
FARE_MAX = 1_000_000
TRIP_MARGIN = timedelta(days=7)  # leaving at most a week before the program, back at most a week after it
MEMBER_URL = "/account/claims/{}"  # routes/subsidy/member.py `get_my_travel_claim`


def member_status_label(code: str) -> str:
    return str(MEMBER_STATUS_LABELS.get(code, code))


def claim_path(claim_id: int) -> str:
    return MEMBER_URL.format(claim_id)


class ClaimRefused(Refusal):
    """not_covered | not_attended | past_deadline | already_claimed | not_found | not_returned"""

    def messages(self):
        return {
            "not_covered": _("The travel subsidy does not cover this program."),
            "not_attended": _("A claim can be made once your attendance at the program is recorded."),
            "past_deadline": _("Claims for this program closed on %(day)s.", day=format_date(self.details.get("deadline"))),
            "already_claimed": _("You have already made a claim for this program. Its status is on this page."),
            "not_found": _("This claim does not exist."),
            "not_returned": _("This claim can be corrected only while the secretariat asks for a correction."),
        }


@dataclass(frozen=True)
class ClaimValues:
    departure: str
    route: str
    transports: tuple[str, ...]
    outbound_on: date
    return_on: date
    fare: int  # what the member paid
    amount: int  # what they claim: the fare up to the maximum

    @property
    def capped(self) -> bool:
        return self.amount < self.fare


@dataclass(frozen=True)
class Standing:
    """Where a member stands with a program's subsidy: its rules, their attendance and claim, and whether they may
    claim now (`refusal` is "" when they may)."""

    rules: SubsidyRules | None
    attended: bool
    claim: dict | None
    refusal: str

    @property
    def may_claim(self) -> bool:
        return not self.refusal


def capped_message(fare: int, amount: int) -> str:
    return _("The fare is %(fare)s yen; the subsidy pays at most %(amount)s yen a person, so %(amount)s yen is claimed.",
             fare=f"{fare:,}", amount=f"{amount:,}")


async def standing(program_id: int, member_id: int | None, today: date) -> Standing:
    rules = await rules_of(program_id)
    if member_id is None:
        return Standing(rules, False, None, "not_covered" if rules is None else "not_attended")
    claim = await TravelClaim.select().where((TravelClaim.program == program_id) & (TravelClaim.member == member_id)
                                             ).first().output(load_json=True)
    attended = await Application.exists().where((Application.program == program_id) & (Application.member == member_id)
                                                & (Application.status == "attended"))
    if rules is None:
        refusal = "not_covered"
    elif claim is not None:
        refusal = "already_claimed"
    elif not attended:
        refusal = "not_attended"
    elif not rules.open_on(today):
        refusal = "past_deadline"
    else:
        refusal = ""
    return Standing(rules, attended, claim, refusal)


def _day(text: str) -> date | None:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        return None
    return day if 2000 <= day.year <= 2100 else None


def read_claim(form: dict, rules: SubsidyRules, program: dict, today: date) -> ClaimValues:
    """The claim form as typed, against the program's rules and dates. FormInvalid with every message and the
    values kept (the receipts are checked apart, by their content)."""
    raw = form.get("transports", [])
    transports = [t for t in (raw if isinstance(raw, list) else [raw]) if isinstance(t, str) and t]
    values = {name: str(form.get(name, "")) for name in ("departure", "route", "outbound_on", "return_on", "fare")}
    values["transports"] = transports
    errors: dict[str, str] = {}
    departure, route = clean_text(values["departure"]), clean_text(values["route"])
    for name, text, limit in (("departure", departure, DEPARTURE_MAX), ("route", route, ROUTE_MAX)):
        if not text:
            errors[name] = _("Required.")
        elif len(text) > limit:
            errors[name] = _("Write at most %(count)d characters.", count=limit)
    if not transports:
        errors["transports"] = _("Choose how you travelled.")
    elif any(not rules.covers(t) for t in transports):
        errors["transports"] = _("This program's subsidy covers %(covered)s only.", covered=transport_labels(rules.transports))
    _check_trip(values, program, today, errors)
    fare = parse_yen(values["fare"])
    if fare is None or not 0 < fare <= FARE_MAX:
        errors["fare"] = _("Enter the fare you paid in whole yen, such as 24,000.")
    if errors:
        raise FormInvalid(errors, values)
    return ClaimValues(departure, route, tuple(t for t in rules.transports if t in transports),
                       _day(values["outbound_on"]), _day(values["return_on"]), fare, min(fare, rules.max_amount))


def _check_trip(values: dict, program: dict, today: date, errors: dict[str, str]) -> None:
    """The days there and back: in order, over by today, and taking in the program's days give or take a week."""
    first, last = to_tokyo(program["starts_at"]).date(), to_tokyo(program["ends_at"]).date()
    outbound, back = _day(values["outbound_on"]), _day(values["return_on"])
    if outbound is None:
        errors["outbound_on"] = _("Enter the day you set out, such as %(day)s.", day=format_date(first))
    elif not first - TRIP_MARGIN <= outbound <= last:
        errors["outbound_on"] = _("Set out between %(start)s and the program's last day, %(end)s.",
                                  start=format_date(first - TRIP_MARGIN), end=format_date(last))
    if back is None:
        errors["return_on"] = _("Enter the day you came back, such as %(day)s.", day=format_date(last))
    elif back > today:
        errors["return_on"] = _("The day back, %(day)s, is still to come. Claim once the trip is over.", day=format_date(back))
    elif not first <= back <= last + TRIP_MARGIN:
        errors["return_on"] = _("Come back between the program's first day, %(start)s, and %(end)s.",
                                start=format_date(first), end=format_date(last + TRIP_MARGIN))
    elif outbound is not None and back < outbound:
        errors["return_on"] = _("The day back cannot be before the day you set out.")


async def prepare_receipts(files: list[bytes], required: bool) -> list[uploads.PreparedImage]:
    """Each file checked by its content (a photo or a PDF), at most three; FormInvalid({"receipts": …})."""
    files = [data for data in files if data]
    if not files and required:
        raise FormInvalid({"receipts": _("Add a photo or PDF of each receipt or ticket.")})
    if len(files) > MAX_RECEIPTS:
        raise FormInvalid({"receipts": _("Add at most %(count)d files.", count=MAX_RECEIPTS)})
    prepared = []
    for data in files:
        try:
            prepared.append(await uploads.prepare_attachment(data))
        except uploads.UploadRefused as refused:
            why = _("A receipt must be a photo (JPEG, PNG or WebP) or a PDF.") if refused.reason == "not_image" \
                else refused.message
            raise FormInvalid({"receipts": why}) from None
    return prepared


async def _store(prepared: list[uploads.PreparedImage], var_dir: Path, account_id: int) -> list[str]:
    stored: list[str] = []
    try:
        for file in prepared:
            stored.append(await uploads.store(file, var_dir, account_id, private=True))
    except BaseException:
        await discard(stored, var_dir)
        raise
    return stored


async def discard(urls: list[str], var_dir: Path) -> None:
    for url in urls:
        await uploads.discard(url, var_dir)


async def _program(program_id: int) -> dict:
    program = await Program.select(Program.id, Program.title, Program.starts_at, Program.ends_at).where(
        Program.id == program_id).first() if is_row_id(program_id) else None
    if program is None:
        raise ClaimRefused("not_found")
    return program


async def _account_of(member_id: int) -> int:
    return (await Member.select(Member.account).where(Member.id == member_id).first())["account"]


async def submit(program_id: int, member_id: int, form: dict, files: list[bytes], var_dir: Path, now: datetime) -> int:
    """File the member's claim: the rules first, then the form, then the receipts (stored only when everything else
    holds, and removed again if the claim cannot be kept). Raises ClaimRefused or FormInvalid; returns its id."""
    program = await _program(program_id)
    today = to_tokyo(now).date()
    found = await standing(program_id, member_id, today)
    if found.refusal:
        raise ClaimRefused(found.refusal, deadline=found.rules.deadline if found.rules else None)
    values = read_claim(form, found.rules, program, today)
    account_id = await _account_of(member_id)
    receipts = await _store(await prepare_receipts(files, required=True), var_dir, account_id)
    try:
        async with atomic(TravelClaim._meta.db):
            rows = await TravelClaim.insert(TravelClaim(
                program=program_id, member=member_id, fiscal_year=fiscal_year_of(program["starts_at"]),
                max_amount=found.rules.max_amount, receipts=receipts, submitted_at=now, created_at=now, updated_at=now,
                **_columns(values))).returning(TravelClaim.id)
            claim_id = rows[0]["id"]
            await _audit(account_id, claim_id, "travel_claim.submit", values, now)
            await _tell_received(account_id, claim_id, program["title"], values, now)
    except BaseException as exc:
        await discard(receipts, var_dir)
        if isinstance(exc, Exception) and is_unique_violation(exc):  # two sends at once: the first one is the claim
            raise ClaimRefused("already_claimed") from None
        raise
    return claim_id


async def resubmit(claim_id: int, member_id: int, form: dict, files: list[bytes], var_dir: Path, now: datetime) -> None:
    """Send a returned claim again, corrected: new receipts replace the earlier ones, none keeps them."""
    claim = await claim_of_member(claim_id, member_id)
    if claim is None:
        raise ClaimRefused("not_found")
    if claim["status"] != "returned":
        raise ClaimRefused("not_returned")
    program = await _program(claim["program"])
    # The maximum and the means of transport it was filed under, not today's rules: a correction is the same claim.
    rules = SubsidyRules(claim["program"], claim["max_amount"], tuple(claim["program_transports"] or claim["transports"]),
                         date.max)
    values = read_claim(form, rules, program, to_tokyo(now).date())
    account_id = await _account_of(member_id)
    prepared = await prepare_receipts(files, required=not claim["receipts"])
    receipts = await _store(prepared, var_dir, account_id) if prepared else list(claim["receipts"])
    try:
        async with atomic(TravelClaim._meta.db):
            moved = await TravelClaim.update({**{getattr(TravelClaim, k): v for k, v in _columns(values).items()},
                                              TravelClaim.receipts: receipts, TravelClaim.status: "submitted",
                                              TravelClaim.updated_at: now}).where(
                (TravelClaim.id == claim_id) & (TravelClaim.status == "returned")).returning(TravelClaim.id)
            if not moved:
                raise ClaimRefused("not_returned")
            await _audit(account_id, claim_id, "travel_claim.resubmit", values, now)
            await _tell_received(account_id, claim_id, program["title"], values, now)
    except BaseException:
        if prepared:
            await discard(receipts, var_dir)
        raise
    if prepared:  # the earlier receipts are replaced: nothing points at them any more
        await discard([url for url in claim["receipts"] if url not in receipts], var_dir)


def _columns(values: ClaimValues) -> dict:
    return {"departure": values.departure, "route": values.route, "transports": list(values.transports),
            "outbound_on": values.outbound_on, "return_on": values.return_on, "fare": values.fare, "amount": values.amount}


async def _audit(account_id: int, claim_id: int, action: str, values: ClaimValues, now: datetime) -> None:
    await AuditLog.insert(AuditLog(actor=account_id, action=action, target_type="travel_claim", target_id=str(claim_id),
                                   detail={"fare": values.fare, "amount": values.amount}, created_at=now))


async def _tell_received(account_id: int, claim_id: int, title: str, values: ClaimValues, now: datetime) -> None:
    """The member's own step: in their inbox only, as for an application they made."""
    async with in_locale_of(account_id):
        heading = _("Travel subsidy claim received: %(title)s", title=title)
        text = _("%(amount)s yen is claimed. The secretariat checks the receipts and tells you here.",
                 amount=f"{values.amount:,}")
        if values.capped:
            text = capped_message(values.fare, values.amount) + " " + text
    await notices.notify(account_id, heading, text, url=claim_path(claim_id), now=now)


CLAIM_COLUMNS = (TravelClaim.program.title.as_alias("program_title"), TravelClaim.program.starts_at.as_alias("starts_at"),
                 TravelClaim.program.ends_at.as_alias("ends_at"), TravelClaim.program.area.name.as_alias("area_name"))


async def claim_of_member(claim_id: int, member_id: int | None) -> dict | None:
    """The member's own claim with its program and the program's rules as they are now; None for another's."""
    if member_id is None or not is_row_id(claim_id):
        return None
    claim = await TravelClaim.select(*TravelClaim.all_columns(), *CLAIM_COLUMNS).where(
        (TravelClaim.id == claim_id) & (TravelClaim.member == member_id)).first().output(load_json=True)
    if claim is None:
        return None
    rules = await TravelSubsidy.select(TravelSubsidy.transports).where(TravelSubsidy.program == claim["program"]).first(
    ).output(load_json=True)
    return {**claim, "program_transports": (rules or {}).get("transports") or []}


async def of_member(member_id: int | None) -> list[dict]:
    """The member's claims, the latest program first."""
    if member_id is None:
        return []
    return await TravelClaim.select(*TravelClaim.all_columns(), *CLAIM_COLUMNS).where(
        TravelClaim.member == member_id).order_by(TravelClaim.program.starts_at, ascending=False).output(load_json=True)


async def claimable(member_id: int | None, today: date) -> list[dict]:
    """Programs the member attended that the subsidy covers, not claimed for yet, with their deadline to come."""
    if member_id is None:
        return []
    claimed = TravelClaim.select(TravelClaim.program).where(TravelClaim.member == member_id)
    attended = Application.select(Application.program).where(
        (Application.member == member_id) & (Application.status == "attended"))
    return await TravelSubsidy.select(
        TravelSubsidy.program, TravelSubsidy.deadline, TravelSubsidy.max_amount,
        TravelSubsidy.program.title.as_alias("title"), TravelSubsidy.program.starts_at.as_alias("starts_at"),
        TravelSubsidy.program.ends_at.as_alias("ends_at"),
    ).where(TravelSubsidy.program.is_in(attended) & TravelSubsidy.program.not_in(claimed)
            & (TravelSubsidy.deadline >= today)).order_by(TravelSubsidy.deadline)
