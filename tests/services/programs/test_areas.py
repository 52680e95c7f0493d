"""Areas read back for their edit form and by name."""

from __future__ import annotations

from app.services.programs import areas
from app.services.programs.areas import AreaValues
from tests import factories


async def test_an_area_is_read_back_as_its_edit_form_shows_it():
    area_id = await areas.save_area(AreaValues("勇払", "yufutsu", "ほっき貝の町", "https://example.jp/a.jpg", 3))
    assert await areas.area_values(area_id) == AreaValues("勇払", "yufutsu", "ほっき貝の町", "https://example.jp/a.jpg", 3)
    assert await areas.area_values(area_id + 1) is None


async def test_an_areas_name_is_empty_for_no_area_or_one_that_does_not_exist():
    area_id = await factories.area("樽前", "tarumae")
    assert await areas.area_name(area_id) == "樽前"
    assert await areas.area_name(None) == ""
    assert await areas.area_name(area_id + 1) == ""
