"""The yearly targets: parsed as people type them, and saved all at once, audited, or not at all."""

import pytest

from app.services.dashboard import targets
from app.services.shared import clock
from app.services.shared.refusals import FormInvalid
from db.tables import AuditLog, KpiTarget
from tests import factories


def test_targets_accept_whole_numbers_as_typed_in_japanese_and_blank_clears():
    parsed = targets.parse_targets({"registrations": "１，２００", "activations": " 300 ", "redemptions": "",
                                    "response_rate": "100", "participants_3": "10"}, [3, 4])
    assert parsed == {("registrations", 0): 1200, ("activations", 0): 300, ("redemptions", 0): None,
                      ("response_rate", 0): 100, ("participants", 3): 10, ("participants", 4): None}


def test_targets_refuse_negatives_fractions_words_and_rates_over_one_hundred():
    with pytest.raises(FormInvalid) as refused:
        targets.parse_targets({"registrations": "-5", "activations": "1.5", "redemptions": "たくさん",
                               "response_rate": "101", "participants_3": "99999999"}, [3])
    errors = refused.value.errors
    assert set(errors) == {"registrations", "activations", "redemptions", "response_rate", "participants_3"}
    assert errors["response_rate"] == "率は100%を超えられません。"
    assert refused.value.values["redemptions"] == "たくさん"


async def test_saving_targets_sets_changes_and_clears_them_in_one_audited_step(after_the_year):
    actor = await factories.staff_account()
    await targets.save_targets(2026, {("registrations", 0): 500, ("participants", 3): 10}, actor, clock.now())
    await targets.save_targets(2026, {("registrations", 0): 600, ("participants", 3): None}, actor, clock.now())
    assert await targets.targets(2026) == {("registrations", 0): 600}
    logs = await AuditLog.select(AuditLog.detail).where(AuditLog.action == "kpi.targets").output(load_json=True)
    assert [log["detail"] for log in logs] == [{"registrations:0": 500, "participants:3": 10},
                                               {"registrations:0": 600, "participants:3": None}]
    await targets.save_targets(2026, {("registrations", 0): 600}, actor, clock.now())  # nothing changed: no log
    assert await AuditLog.count().where(AuditLog.action == "kpi.targets") == 2


async def test_targets_saved_at_the_same_moment_by_someone_else_leave_nothing_half_written(after_the_year, monkeypatch):
    actor = await factories.staff_account()
    await targets.save_targets(2026, {("activations", 0): 50}, actor, clock.now())

    async def stale(fiscal_year):  # as if read before the other person's save
        return {}

    monkeypatch.setattr(targets, "targets", stale)
    with pytest.raises(targets.TargetsConflict):
        await targets.save_targets(2026, {("registrations", 0): 1, ("activations", 0): 70}, actor, clock.now())
    rows = await KpiTarget.select(KpiTarget.metric, KpiTarget.value)
    assert rows == [{"metric": "activations", "value": 50}]
