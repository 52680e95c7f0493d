"""The secretariat's yearly KPI targets (seed 000 §8(1)): read, parsed from the targets form, and saved.

A target is a whole number per fiscal year and metric, for the whole region (`REGION`) or, for
participants, per area; the region's participants target is the sum of the areas'. Saving is all or
nothing, audited, and refused with `TargetsConflict` when someone else saved the same year at the same
moment.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime

from app.i18n import gettext as _
from app.services.dashboard.figures import METRICS
from app.services.shared.refusals import FormInvalid
from db.engine import atomic, is_unique_violation
from db.tables import AuditLog, KpiTarget

REGION = 0  # KpiTarget.area_id of a target for the whole region
# Participants are targeted per area (about ten per program); the region's target is their sum.
AREA_METRICS = ("participants",)
MAX_TARGET = 10_000_000


async def targets(fiscal_year: int) -> dict[tuple[str, int], int]:
    rows = await KpiTarget.select(KpiTarget.metric, KpiTarget.area_id, KpiTarget.value).where(
        KpiTarget.fiscal_year == fiscal_year
    )
    return {(r["metric"], r["area_id"]): r["value"] for r in rows}


def target_field(metric: str, area_id: int = REGION) -> str:
    """The form field of a target: "registrations", or "participants_3" for an area's."""
    return metric if area_id == REGION else f"{metric}_{area_id}"


def target_keys(area_ids: list[int]) -> list[tuple[str, int]]:
    """Every target the form sets: the region's for each metric but participants, which are set per area."""
    region = [(metric, REGION) for metric in METRICS if metric not in AREA_METRICS]
    return region + [(metric, area_id) for metric in AREA_METRICS for area_id in area_ids]


def _number(text: str) -> str:
    """Full-width digits and thousands separators as people type them: "１，２００" → "1200"."""
    return unicodedata.normalize("NFKC", text).replace(",", "").replace(" ", "")


def parse_targets(form: dict, area_ids: list[int]) -> dict[tuple[str, int], int | None]:
    """Non-negative whole numbers, the response rate at most 100; an empty field removes that target."""
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    parsed: dict[tuple[str, int], int | None] = {}
    for metric, area_id in target_keys(area_ids):
        name = target_field(metric, area_id)
        raw = str(form.get(name, "") or "").strip()
        values[name] = raw
        text = _number(raw)
        if not text:
            parsed[(metric, area_id)] = None
            continue
        ceiling = 100 if metric == "response_rate" else MAX_TARGET
        if not (text.isascii() and text.isdigit()):
            errors[name] = (_("Enter a whole percentage from 0 to 100.") if metric == "response_rate"
                            else _("Enter a whole number of 0 or more, such as 120."))
        elif int(text) > ceiling:
            errors[name] = (_("A rate cannot be more than 100%.") if metric == "response_rate"
                            else _("Enter a number of at most %(max)s.", max=f"{MAX_TARGET:,}"))
        else:
            parsed[(metric, area_id)] = int(text)
    if errors:
        raise FormInvalid(errors, values)
    return parsed


class TargetsConflict(Exception):
    """Someone else saved this year's targets at the same moment."""


async def save_targets(fiscal_year: int, parsed: dict[tuple[str, int], int | None], actor_id: int, now: datetime) -> None:
    """All targets of the form, or none: set, changed and cleared in one transaction, and audited."""
    current = await targets(fiscal_year)
    changes = {f"{metric}:{area}": value for (metric, area), value in parsed.items() if current.get((metric, area)) != value}
    if not changes:
        return
    try:
        async with atomic(KpiTarget._meta.db):
            for (metric, area_id), value in parsed.items():
                where = ((KpiTarget.fiscal_year == fiscal_year) & (KpiTarget.metric == metric)
                         & (KpiTarget.area_id == area_id))
                if value is None:
                    await KpiTarget.delete().where(where)
                elif (metric, area_id) in current:
                    await KpiTarget.update({KpiTarget.value: value, KpiTarget.updated_by: actor_id,
                                            KpiTarget.updated_at: now}).where(where)
                else:
                    await KpiTarget.insert(KpiTarget(fiscal_year=fiscal_year, metric=metric, area_id=area_id,
                                                     value=value, updated_by=actor_id, updated_at=now))
            await AuditLog.insert(AuditLog(actor=actor_id, action="kpi.targets", target_type="fiscal_year",
                                           target_id=str(fiscal_year), detail=changes, created_at=now))
    except Exception as exc:
        if is_unique_violation(exc):
            raise TargetsConflict() from exc
        raise
