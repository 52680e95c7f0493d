"""The dashboard's filter: the fiscal years it offers and how a year is named, and the year and area as
typed in an address or a form. A fiscal year runs from April 1 to March 31 in Tokyo.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.i18n import fiscal_year_label  # noqa: F401 (the dashboard's pages name years through this module)
from app.i18n import gettext as _
from app.services.programs.activities import fiscal_year_of
from app.services.shared import clock
from app.services.shared.refusals import FormInvalid
from app.services.wallet import analysis as wallet_analysis
from db.tables import KpiTarget, Member

FIRST_YEAR, LAST_YEAR = wallet_analysis.FIRST_YEAR, wallet_analysis.LAST_YEAR - 1


async def fiscal_years(current: int) -> list[int]:
    """The years the filter offers, newest first: next year back to the first registration or target, and at
    least last year (to compare with, or to enter its targets after the fact)."""
    first = current - 1
    member = await Member.select(Member.created_at).order_by(Member.created_at).first()
    if member:
        first = min(first, fiscal_year_of(member["created_at"]))
    target = await KpiTarget.select(KpiTarget.fiscal_year).order_by(KpiTarget.fiscal_year).first()
    if target:
        first = min(first, target["fiscal_year"])
    return list(range(current + 1, max(first, FIRST_YEAR) - 1, -1))


def current_fiscal_year() -> int:
    return fiscal_year_of(clock.now())


def parse_year(text: str) -> int | None:
    """A fiscal year as typed in an address or a hidden field; None if it is not one we can show."""
    text = (text or "").strip()
    if text.isascii() and text.isdigit() and FIRST_YEAR <= int(text) <= LAST_YEAR:
        return int(text)
    return None


@dataclass(frozen=True)
class Selection:
    fiscal_year: int
    area_id: int | None


def parse_selection(year_text: str, area_text: str, current_year: int, area_ids: set[int]) -> Selection:
    """The filter as typed in the address; an empty year is the running fiscal year, an empty area the region."""
    year_text, area_text = (year_text or "").strip(), (area_text or "").strip()
    errors: dict[str, str] = {}
    year = parse_year(year_text) if year_text else current_year
    area = None
    if year is None:
        year = current_year
        errors["year"] = _("Choose a fiscal year from the list.")
    if area_text:
        if area_text.isascii() and area_text.isdigit() and int(area_text) in area_ids:
            area = int(area_text)
        else:
            errors["area"] = _("Choose an area from the list.")
    if errors:
        raise FormInvalid(errors, {"year": year_text, "area": area_text})
    return Selection(year, area)
