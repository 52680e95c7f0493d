"""The travel subsidy in figures: claims and yen per program and per area for a fiscal year (the staff list, the
dashboard and the yearly report), and every claim of a year as CSV for the accountant.

A claim counts in the fiscal year of its program, the trip's, whenever it is paid: a March program's claims paid
in April stay in the year that ends in March, as the prefecture's books keep them (出納整理期間). Declined and
withdrawn claims are counted apart and add no yen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.i18n import gettext as _
from app.i18n import to_tokyo
from app.services.programs.activities import fiscal_year_bounds
from app.services.shared import exports
from app.services.subsidy.review import ClaimFilter, claims, status_label
from app.services.subsidy.rules import transport_labels
from db.tables import Program, TravelClaim, TravelSubsidy

STANDING = ("submitted", "returned", "approved", "paid")
APPROVED = ("approved", "paid")


@dataclass
class ClaimTotals:
    name: str  # the program's title, or the area's name
    area_name: str
    claims: int = 0  # standing claims: not declined or withdrawn
    waiting: int = 0  # waiting for a check or for the member's correction
    declined: int = 0
    claimed: int = 0  # yen the standing claims ask for
    approved: int = 0  # yen approved (paid or to be paid)
    paid: int = 0  # yen paid
    program_id: int | None = None

    def add(self, claim: dict) -> None:
        status = claim["status"]
        if status in STANDING:
            self.claims += 1
            self.claimed += claim["amount"]
        self.waiting += status in ("submitted", "returned")
        self.declined += status == "declined"
        if status in APPROVED:
            self.approved += claim["approved_amount"] or 0
        if status == "paid":
            self.paid += claim["approved_amount"] or 0


@dataclass(frozen=True)
class ClaimFigures:
    by_area: tuple[ClaimTotals, ...]
    by_program: tuple[ClaimTotals, ...]

    @property
    def total(self) -> ClaimTotals:
        whole = ClaimTotals("", "")
        for row in self.by_area:
            for name in ("claims", "waiting", "declined", "claimed", "approved", "paid"):
                setattr(whole, name, getattr(whole, name) + getattr(row, name))
        return whole


async def figures(fiscal_year: int, area_id: int | None = None) -> ClaimFigures:
    """Every program the subsidy covers that starts in the year (with claims or none yet) and every program with
    claims in the year, and their areas, each in the order of the program's start."""
    start, end = fiscal_year_bounds(fiscal_year)
    covered = TravelSubsidy.select(TravelSubsidy.program)
    in_year = (Program.starts_at >= start) & (Program.starts_at < end)
    with_claims = TravelClaim.select(TravelClaim.program).where(TravelClaim.fiscal_year == fiscal_year)
    query = Program.select(Program.id, Program.title, Program.area, Program.area.name.as_alias("area_name")).where(
        (Program.id.is_in(covered) & in_year) | Program.id.is_in(with_claims))
    if area_id is not None:
        query = query.where(Program.area == area_id)
    programs = await query.order_by(Program.starts_at).order_by(Program.id)
    by_program = {p["id"]: ClaimTotals(p["title"], p["area_name"], program_id=p["id"]) for p in programs}
    by_area: dict[int, ClaimTotals] = {}
    for p in programs:
        by_area.setdefault(p["area"], ClaimTotals(p["area_name"], p["area_name"]))
    rows = await TravelClaim.select(TravelClaim.program, TravelClaim.program.area.as_alias("area"), TravelClaim.status,
                                    TravelClaim.amount, TravelClaim.approved_amount).where(
        TravelClaim.fiscal_year == fiscal_year)
    for claim in rows:
        if claim["program"] in by_program:
            by_program[claim["program"]].add(claim)
            by_area[claim["area"]].add(claim)
    return ClaimFigures(tuple(by_area.values()), tuple(by_program.values()))


def person_name(claim: dict) -> str:
    """The name the accountant pays: the registered name, or the display name of a member who gave none."""
    return f"{claim['family_name']} {claim['given_name']}".strip() or claim["display_name"]


async def export_csv(actor_id: int, view: ClaimFilter, now: datetime) -> tuple[str, str]:
    """(file name, CSV) of the year's claims in the view, one row each, with Japanese headers; audited."""
    rows = await claims(view, limit=None)
    with exports.csv_language():
        headers = [_("Claim number"), _("Area"), _("Program"), _("Member number"), _("Full name"), _("Set out from"),
                   _("Route"), _("Means of transport"), _("Day out"), _("Day back"), _("Fare (yen)"),
                   _("Maximum (yen)"), _("Claimed (yen)"), _("Approved (yen)"), _("Status"), _("Claimed on"),
                   _("Decided on"), _("Paid on"), _("Note from the secretariat"), _("Receipts")]
        lines = [[r["id"], r["area_name"], r["program_title"], r["member_no"], person_name(r), r["departure"], r["route"],
                  transport_labels(r["transports"]), r["outbound_on"].isoformat(), r["return_on"].isoformat(), r["fare"],
                  r["max_amount"], r["amount"], "" if r["approved_amount"] is None else r["approved_amount"],
                  status_label(r["status"]), to_tokyo(r["submitted_at"]).date().isoformat(),
                  to_tokyo(r["decided_at"]).date().isoformat() if r["decided_at"] else "",
                  r["paid_on"].isoformat() if r["paid_on"] else "", r["note"], " ".join(r["receipts"])]
                 for r in sorted(rows, key=lambda r: r["id"])]
    await exports.record_export(actor_id, "travel_claim", str(view.fiscal_year),
                                {"fiscal_year": view.fiscal_year, "area": view.area_id, "status": view.status,
                                 "rows": len(lines)}, now)
    return f"travel-claims-fy{view.fiscal_year}.csv", exports.csv_text(headers, lines)
