"""A program's travel-subsidy rules as the secretariat sets them: yen as typed, the means of transport from the list,
a deadline on or after the program's last day; set again in place, removed, each change audited."""

from __future__ import annotations

from datetime import date

import pytest

from app.services.shared.refusals import FormInvalid
from app.services.subsidy import rules
from db.tables import AuditLog, TravelSubsidy
from tests import factories
from tests.services.subsidy.conftest import ENDS, NOW, STARTS


def form(**changes) -> dict:
    return {"max_amount": "２０，０００円", "transports": ["air", "rail"], "deadline": "2027-01-15",
            "scheme": "関係人口来県支援交通費補助金", "organiser": "苫小牧市 勇払地区まちづくり協議会", "conditions": "", **changes}


PROGRAM = {"id": 1, "starts_at": STARTS, "ends_at": ENDS}


def test_the_form_is_read_as_staff_type_it():
    read = rules.read_rules(form(transports="rail"), PROGRAM)
    assert (read.max_amount, read.transports, read.deadline) == (20_000, ("rail",), date(2027, 1, 15))
    assert rules.read_rules(form(), PROGRAM).transports == ("rail", "air")  # in the list's order


@pytest.mark.parametrize("changes, field", [
    ({"max_amount": "たくさん"}, "max_amount"), ({"max_amount": "0"}, "max_amount"), ({"max_amount": "2,000,000"}, "max_amount"),
    ({"transports": []}, "transports"), ({"transports": ["rail", "rocket"]}, "transports"),
    ({"deadline": "2026-12-05"}, "deadline"), ({"deadline": "2028-12-31"}, "deadline"), ({"deadline": "来月"}, "deadline"),
    ({"organiser": "協" * 101}, "organiser"), ({"conditions": "条" * 1001}, "conditions"),
])
def test_what_cannot_be_kept_is_refused_with_the_values_kept(changes, field):
    with pytest.raises(FormInvalid) as invalid:
        rules.read_rules(form(**changes), PROGRAM)
    assert field in invalid.value.errors and invalid.value.values["organiser"] == form(**changes)["organiser"]


def test_the_deadline_may_be_the_programs_last_day_in_japan():
    assert rules.read_rules(form(deadline="2026-12-06"), PROGRAM).deadline == date(2026, 12, 6)


async def test_staff_cover_a_program_change_its_rules_and_remove_them_each_audited():
    area = await factories.area()
    program = await factories.program(area, starts_at=STARTS, ends_at=ENDS)
    other = await factories.program(area, title="別のプログラム")
    staff = await factories.staff_account()
    read = rules.read_rules(form(), {"id": program, "starts_at": STARTS, "ends_at": ENDS})
    await rules.set_rules(read, staff, NOW)
    await rules.set_rules(rules.read_rules(form(max_amount="15000"), {"id": program, "starts_at": STARTS, "ends_at": ENDS}),
                          staff, NOW)
    assert await TravelSubsidy.count() == 1
    now = await rules.rules_of(program)
    assert (now.max_amount, now.organiser, now.covers("air"), now.covers("car")) == (15_000, "苫小牧市 勇払地区まちづくり協議会",
                                                                                      True, False)
    assert await rules.covered([program, other]) == {program}
    assert await rules.rules_of(other) is None and await rules.rules_of(2**40) is None
    assert await rules.remove_rules(program, staff, NOW) is True
    assert await rules.remove_rules(program, staff, NOW) is False
    assert await rules.rules_of(program) is None
    entries = await AuditLog.select(AuditLog.action, AuditLog.target_id, AuditLog.detail).order_by(AuditLog.id).output(
        load_json=True)
    assert [e["action"] for e in entries] == ["travel_subsidy.set", "travel_subsidy.set", "travel_subsidy.remove"]
    assert entries[1]["detail"]["max_amount"] == 15_000 and entries[0]["target_id"] == str(program)


def test_the_form_suggests_a_month_after_the_program_to_claim():
    values = rules.form_values(None, PROGRAM)
    assert values["deadline"] == "2027-01-05" and values["max_amount"] == ""
