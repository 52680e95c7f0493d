"""Which programs the travel subsidy (関係人口来県支援交通費補助金, seed 000 §8(2)) covers, and on what terms: the most
it pays a person, the means of transport it covers and the last day to claim. The secretariat sets them on a
program (staff only: it is the prefecture's money); members read them on the program's page.

A municipality's or a local group's own matching project is a program of its area like any other, with its
organiser named in the rules, so the page says whose project it is and that the subsidy covers it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app.i18n import format_date, to_tokyo
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.services.shared.refusals import FormInvalid
from app.services.shared.text import clean_text
from app.services.shared.yen import parse_yen
from db.engine import atomic, is_row_id
from db.tables import AuditLog, Program, TravelSubsidy

TRANSPORTS = {
    "rail": _l("Rail (Shinkansen, JR and private lines)"),
    "air": _l("Air"),
    "bus": _l("Highway and local buses"),
    "ship": _l("Ferry"),
    "car": _l("Own car (fuel and tolls)"),
    "rental_car": _l("Rental car"),
}
MAX_AMOUNT_MAX = 1_000_000
SCHEME_MAX, ORGANISER_MAX, CONDITIONS_MAX = 100, 100, 1000
DEADLINE_AFTER = timedelta(days=30)  # what the form suggests: a month after the program's last day
DEADLINE_MAX = timedelta(days=366)  # a later deadline is a typing mistake


@dataclass(frozen=True)
class SubsidyRules:
    program_id: int
    max_amount: int  # whole yen per person
    transports: tuple[str, ...]
    deadline: date  # the last day in Japan a claim can be filed
    scheme: str = ""
    organiser: str = ""
    conditions: str = ""

    def covers(self, transport: str) -> bool:
        return transport in self.transports

    def open_on(self, today: date) -> bool:
        return today <= self.deadline

    def transport_names(self) -> str:
        return transport_labels(self.transports)


def transport_label(code: str) -> str:
    return str(TRANSPORTS.get(code, code))


def transport_labels(codes) -> str:
    return "、".join(transport_label(code) for code in codes)


def last_day(program: dict) -> date:
    """The program's last day in Japan: a claim's deadline is never before it."""
    return to_tokyo(program["ends_at"]).date()


def _rules(row: dict) -> SubsidyRules:
    return SubsidyRules(row["program"], row["max_amount"], tuple(row["transports"] or ()), row["deadline"], row["scheme"],
                        row["organiser"], row["conditions"])


async def rules_of(program_id: int) -> SubsidyRules | None:
    """The program's rules, or None when the subsidy does not cover it."""
    if not is_row_id(program_id):
        return None
    row = await TravelSubsidy.select().where(TravelSubsidy.program == program_id).first().output(load_json=True)
    return _rules(row) if row else None


async def covered(program_ids: list[int]) -> set[int]:
    """Which of these programs the subsidy covers (the badge on the list's cards)."""
    if not program_ids:
        return set()
    rows = await TravelSubsidy.select(TravelSubsidy.program).where(TravelSubsidy.program.is_in(program_ids))
    return {row["program"] for row in rows}


def form_values(rules: SubsidyRules | None, program: dict) -> dict:
    """The staff form's fields: the rules as set, or a suggestion (a month after the program to claim, every
    public means of transport)."""
    if rules is None:
        return {"max_amount": "", "transports": ["rail", "air", "bus", "ship"], "scheme": "", "organiser": "",
                "conditions": "", "deadline": (last_day(program) + DEADLINE_AFTER).isoformat()}
    return {"max_amount": f"{rules.max_amount:,}", "transports": list(rules.transports), "scheme": rules.scheme,
            "organiser": rules.organiser, "conditions": rules.conditions, "deadline": rules.deadline.isoformat()}


def read_rules(form: dict, program: dict) -> SubsidyRules:
    """The staff form as typed: the maximum in whole yen, at least one means of transport from the list, a deadline
    from the program's last day to a year after it. FormInvalid with every message and the values kept."""
    raw = form.get("transports", [])
    transports = [t for t in (raw if isinstance(raw, list) else [raw]) if isinstance(t, str) and t]
    values = {name: str(form.get(name, "")) for name in ("max_amount", "deadline", "scheme", "organiser", "conditions")}
    values["transports"] = transports
    errors: dict[str, str] = {}
    amount = parse_yen(values["max_amount"])
    if amount is None or not 0 < amount <= MAX_AMOUNT_MAX:
        errors["max_amount"] = _("Enter the most it pays a person in whole yen, such as 20,000.")
    if not transports:
        errors["transports"] = _("Choose at least one means of transport.")
    elif any(t not in TRANSPORTS for t in transports):
        errors["transports"] = _("Choose from the list.")
    first = last_day(program)
    try:
        deadline = date.fromisoformat(values["deadline"].strip())
    except ValueError:
        deadline = None
    if deadline is None or not first <= deadline <= first + DEADLINE_MAX:
        errors["deadline"] = _("Enter a day from the program's last day (%(first)s) to a year after it.",
                               first=format_date(first))
    texts = {name: clean_text(values[name]) for name in ("scheme", "organiser", "conditions")}
    for name, limit in (("scheme", SCHEME_MAX), ("organiser", ORGANISER_MAX), ("conditions", CONDITIONS_MAX)):
        if len(texts[name]) > limit:
            errors[name] = _("Use %(max)d characters or fewer.", max=limit)
    if errors:
        raise FormInvalid(errors, values)
    chosen = tuple(code for code in TRANSPORTS if code in transports)
    return SubsidyRules(program["id"], amount, chosen, deadline, texts["scheme"], texts["organiser"], texts["conditions"])


async def set_rules(rules: SubsidyRules, actor_id: int, now: datetime) -> None:
    """Cover the program (or change its rules); audited with the rules as set. Claims already filed keep the
    maximum they were filed under."""
    columns = {TravelSubsidy.max_amount: rules.max_amount, TravelSubsidy.transports: list(rules.transports),
               TravelSubsidy.deadline: rules.deadline, TravelSubsidy.scheme: rules.scheme,
               TravelSubsidy.organiser: rules.organiser, TravelSubsidy.conditions: rules.conditions,
               TravelSubsidy.updated_by: actor_id, TravelSubsidy.updated_at: now}
    async with atomic(TravelSubsidy._meta.db):
        if not await Program.exists().where(Program.id == rules.program_id):
            return
        rows = await TravelSubsidy.update(columns).where(TravelSubsidy.program == rules.program_id).returning(
            TravelSubsidy.id)
        if not rows:
            await TravelSubsidy.insert(TravelSubsidy(program=rules.program_id, **{c._meta.name: v for c, v in columns.items()}))
        await AuditLog.insert(AuditLog(
            actor=actor_id, action="travel_subsidy.set", target_type="program", target_id=str(rules.program_id),
            detail={"max_amount": rules.max_amount, "transports": list(rules.transports),
                    "deadline": rules.deadline.isoformat(), "organiser": rules.organiser}, created_at=now))


async def remove_rules(program_id: int, actor_id: int, now: datetime) -> bool:
    """The subsidy no longer covers the program: no new claims; those filed go on. False when it did not."""
    async with atomic(TravelSubsidy._meta.db):
        rows = await TravelSubsidy.delete().where(TravelSubsidy.program == program_id).returning(TravelSubsidy.id)
        if rows:
            await AuditLog.insert(AuditLog(actor=actor_id, action="travel_subsidy.remove", target_type="program",
                                           target_id=str(program_id), created_at=now))
    return bool(rows)
