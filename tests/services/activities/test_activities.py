"""The activity form's rules that the pages rely on: control characters dropped, every day of the period."""

from __future__ import annotations

from datetime import date

from app.services.activities import activities


async def test_control_characters_typed_into_the_form_are_dropped_not_stored(scene):
    form = {"title": "登山道\x00整備", "kind": "volunteer", "place": "樽前山\x07", "starts_on": "2026-11-01",
            "ends_on": "2026-11-02"}
    values = await activities.validate_activity(form, scene.editor)
    assert (values.title, values.place, values.area_id) == ("登山道整備", "樽前山", scene.area)


def test_the_days_of_an_activity_run_from_the_first_to_the_last():
    days = activities.days_of({"starts_on": date(2027, 2, 27), "ends_on": date(2027, 3, 2)})
    assert days == [date(2027, 2, 27), date(2027, 2, 28), date(2027, 3, 1), date(2027, 3, 2)]
