"""The dashboard's filter: the years it offers, and the year and area as typed."""

import pytest

from app.services.dashboard import filters
from app.services.dashboard.filters import Selection
from app.services.shared.refusals import FormInvalid


def test_the_selection_defaults_to_this_year_and_the_region():
    assert filters.parse_selection("", "", 2026, {3}) == Selection(2026, None)
    assert filters.parse_selection("2024", "3", 2026, {3}) == Selection(2024, 3)


@pytest.mark.parametrize("year, area, field", [("abc", "", "year"), ("1999", "", "year"), ("２０２６", "", "year"),
                                               ("2026", "7", "area"), ("2026", "x", "area")])
def test_the_selection_refuses_years_and_areas_not_offered(year, area, field):
    with pytest.raises(FormInvalid) as refused:
        filters.parse_selection(year, area, 2026, {3})
    assert field in refused.value.errors


async def test_the_years_offered_run_from_the_first_registration_to_next_year(data):
    assert await filters.fiscal_years(2027) == [2028, 2027, 2026, 2025]


async def test_a_new_installation_offers_last_this_and_next_year():
    assert await filters.fiscal_years(2026) == [2027, 2026, 2025]
