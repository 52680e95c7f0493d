"""The secretariat's daily record (日報, seed 000 §11(5)): each person writes what they did on a day and for how
long, linked to the programs, inquiries and articles it concerned; read by week or by month, and as CSV.

An entry is its author's: others read it, only its author changes or removes it. Links are checked when written
(a program, article or inquiry that exists) and shown with their titles as they are now, so a renamed program
reads right in old entries."""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from app.i18n import gettext as _
from app.services.shared import exports
from app.services.shared.refusals import FormInvalid
from app.services.shared.text import clean_text
from db.engine import is_row_id
from db.tables import Article, DiaryEntry, Inquiry, Program

WORK_MAX = 2000
MINUTES_MAX = 24 * 60
REFS_MAX = 20
KINDS = ("program", "inquiry", "article")
_REFERENCE = re.compile(r"[A-Za-z]-[0-9A-Za-z]{2,8}-[0-9A-Za-z]{2,8}")


@dataclass(frozen=True)
class EntryValues:
    day: date
    work: str
    minutes: int
    refs: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Period:
    """From `start` to `end`, both included: a week (Monday first) or a month."""

    view: str
    start: date
    end: date

    @property
    def previous(self) -> date:
        return self.start - timedelta(days=1)

    @property
    def following(self) -> date:
        return self.end + timedelta(days=1)


def period_of(view: str, day: date) -> Period:
    if view == "month":
        first = day.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return Period("month", first, following - timedelta(days=1))
    monday = day - timedelta(days=day.weekday())
    return Period("week", monday, monday + timedelta(days=6))


def _minutes(text: str) -> int | None:
    """Time spent as typed: minutes ("90"), hours and minutes ("1:30"), or hours ("1.5h", "2時間"); full-width
    digits read as half-width."""
    text = unicodedata.normalize("NFKC", text).strip().lower().replace(" ", "")
    if not text:
        return 0
    hours = re.fullmatch(r"(\d{1,2})(?:[.](\d{1,2}))?(?:h|時間)", text)
    if hours:
        return int(hours.group(1)) * 60 + round(float("0." + (hours.group(2) or "0")) * 60)
    clock_time = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if clock_time and int(clock_time.group(2)) < 60:
        return int(clock_time.group(1)) * 60 + int(clock_time.group(2))
    plain = re.fullmatch(r"(\d{1,4})(?:分|m|min)?", text)
    return int(plain.group(1)) if plain else None


async def _refs(program_ids: list[str], article_ids: list[str], inquiry_text: str, errors: dict[str, str]) -> list[dict]:
    """The links as chosen: programs and articles from their lists, inquiries by the references typed."""
    chosen = {
        "program": sorted({int(v) for v in program_ids if v.isdecimal() and is_row_id(int(v))}),
        "article": sorted({int(v) for v in article_ids if v.isdecimal() and is_row_id(int(v))}),
    }
    for kind, table in (("program", Program), ("article", Article)):
        if chosen[kind]:
            found = {row["id"] for row in await table.select(table.id).where(table.id.is_in(chosen[kind]))}
            chosen[kind] = [i for i in chosen[kind] if i in found]
    references = [r.upper() for r in _REFERENCE.findall(unicodedata.normalize("NFKC", inquiry_text))]
    inquiries: list[int] = []
    if inquiry_text.strip() and not references:
        errors["inquiries"] = _("Enter inquiry references such as Q-2611-7K3M, separated by spaces.")
    elif references:
        rows = await Inquiry.select(Inquiry.id, Inquiry.reference).where(Inquiry.reference.is_in(references))
        known = {row["reference"]: row["id"] for row in rows}
        unknown = [r for r in references if r not in known]
        if unknown:
            errors["inquiries"] = _("No inquiry has the reference %(refs)s.", refs="、".join(unknown))
        inquiries = sorted(set(known.values()))
    refs = [{"kind": kind, "id": i} for kind in ("program", "article") for i in chosen[kind]]
    refs += [{"kind": "inquiry", "id": i} for i in inquiries]
    if len(refs) > REFS_MAX:
        errors["inquiries"] = _("Link at most %(count)d items to one entry.", count=REFS_MAX)
    return refs


def chosen_links(form: dict) -> dict[str, list[str]]:
    """The programs and articles ticked in the form (one value or several), as sent."""
    def listed(name: str) -> list[str]:
        value = form.get(name) or []
        return [str(v) for v in (value if isinstance(value, list) else [value]) if str(v).strip()][:REFS_MAX * 2]
    return {"programs": listed("programs"), "articles": listed("articles")}


async def validate(form: dict, today: date) -> EntryValues:
    """The form as typed, or FormInvalid with a message per field and the values kept."""
    values = {name: str(form.get(name, "")) for name in ("day", "work", "minutes", "inquiries")}
    errors: dict[str, str] = {}
    try:
        day = date.fromisoformat(values["day"].strip())
    except ValueError:
        day = None
    if day is None or not (today - timedelta(days=366)) <= day <= today + timedelta(days=1):
        errors["day"] = _("Enter a day within the last year, such as %(day)s.", day=today.isoformat())
    work = clean_text(values["work"])
    if not work:
        errors["work"] = _("Write what was done.")
    elif len(work) > WORK_MAX:
        errors["work"] = _("Write at most %(count)d characters.", count=WORK_MAX)
    minutes = _minutes(values["minutes"])
    if minutes is None or not 0 <= minutes <= MINUTES_MAX:
        errors["minutes"] = _("Enter the time spent in minutes (90) or hours (1:30, 1.5h).")
    chosen = chosen_links(form)
    refs = await _refs(chosen["programs"], chosen["articles"], values["inquiries"], errors)
    if errors:
        raise FormInvalid(errors, {**values, **chosen})
    return EntryValues(day=day, work=work, minutes=minutes or 0, refs=refs)


async def write(author_id: int, values: EntryValues, now: datetime) -> int:
    rows = await DiaryEntry.insert(DiaryEntry(
        day=values.day, author=author_id, work=values.work, minutes=values.minutes, refs=values.refs,
        created_at=now, updated_at=now)).returning(DiaryEntry.id)
    return rows[0]["id"]


async def change(entry_id: int, author_id: int, values: EntryValues, now: datetime) -> bool:
    """False when there is no such entry of this author's."""
    if not is_row_id(entry_id):
        return False
    rows = await DiaryEntry.update({
        DiaryEntry.day: values.day, DiaryEntry.work: values.work, DiaryEntry.minutes: values.minutes,
        DiaryEntry.refs: values.refs, DiaryEntry.updated_at: now,
    }).where((DiaryEntry.id == entry_id) & (DiaryEntry.author == author_id)).returning(DiaryEntry.id)
    return bool(rows)


async def remove(entry_id: int, author_id: int) -> bool:
    if not is_row_id(entry_id):
        return False
    rows = await DiaryEntry.delete().where((DiaryEntry.id == entry_id) & (DiaryEntry.author == author_id)).returning(
        DiaryEntry.id)
    return bool(rows)


async def choices(limit: int = 60) -> dict[str, list[dict]]:
    """What an entry can link to from a list: the newest programs and articles (inquiries are typed by reference)."""
    return {
        "programs": await Program.select(Program.id, Program.title).order_by(Program.id, ascending=False).limit(limit),
        "articles": await Article.select(Article.id, Article.title).order_by(Article.id, ascending=False).limit(limit),
    }


def form_of(row: dict) -> dict:
    """An entry (from entry()) as its form shows it again, for its author to change."""
    return {
        "day": row["day"].isoformat(), "work": row["work"], "minutes": str(row["minutes"]),
        "programs": [str(link["id"]) for link in row["links"] if link["kind"] == "program"],
        "articles": [str(link["id"]) for link in row["links"] if link["kind"] == "article"],
        "inquiries": " ".join(link["label"] for link in row["links"] if link["kind"] == "inquiry"),
    }


async def _with_links(rows: list[dict]) -> list[dict]:
    titles = await _titles(rows)
    for row in rows:
        row["links"] = [{"kind": ref["kind"], **titles[(ref["kind"], ref["id"])]}
                        for ref in row["refs"] or [] if (ref.get("kind"), ref.get("id")) in titles]
    return rows


async def entry(entry_id: int) -> dict | None:
    """One entry with its author's name and its links, or None."""
    if not is_row_id(entry_id):
        return None
    rows = await DiaryEntry.select(*DiaryEntry.all_columns(), DiaryEntry.author.display_name.as_alias("author_name")
                                   ).where(DiaryEntry.id == entry_id).output(load_json=True)
    return (await _with_links(rows))[0] if rows else None


async def _titles(entries: list[dict]) -> dict[tuple[str, int], dict]:
    """What each link points at now: {(kind, id): {"label", "id"}} (a removed one is left out)."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for row in entries:
        for ref in row["refs"] or []:
            if ref.get("kind") in KINDS and isinstance(ref.get("id"), int):
                wanted[ref["kind"]].add(ref["id"])
    found: dict[tuple[str, int], dict] = {}
    if wanted["program"]:
        for row in await Program.select(Program.id, Program.title).where(Program.id.is_in(list(wanted["program"]))):
            found[("program", row["id"])] = {"id": row["id"], "label": row["title"]}
    if wanted["article"]:
        for row in await Article.select(Article.id, Article.title).where(Article.id.is_in(list(wanted["article"]))):
            found[("article", row["id"])] = {"id": row["id"], "label": row["title"]}
    if wanted["inquiry"]:
        for row in await Inquiry.select(Inquiry.id, Inquiry.reference).where(Inquiry.id.is_in(list(wanted["inquiry"]))):
            found[("inquiry", row["id"])] = {"id": row["id"], "label": row["reference"]}
    return found


async def entries_in(period: Period) -> list[dict]:
    """The period's entries, day by day and then as written, each with its author and its links."""
    rows = await DiaryEntry.select(
        *DiaryEntry.all_columns(), DiaryEntry.author.display_name.as_alias("author_name"),
    ).where((DiaryEntry.day >= period.start) & (DiaryEntry.day <= period.end)).order_by(DiaryEntry.day).order_by(
        DiaryEntry.id).output(load_json=True)
    return await _with_links(rows)


def by_day(period: Period, entries: list[dict]) -> list[dict]:
    """Every day of the period with its entries and minutes, and the period's minutes per person."""
    days = []
    for offset in range((period.end - period.start).days + 1):
        day = period.start + timedelta(days=offset)
        mine = [e for e in entries if e["day"] == day]
        days.append({"day": day, "entries": mine, "minutes": sum(e["minutes"] for e in mine)})
    return days


def minutes_per_person(entries: list[dict]) -> list[tuple[str, int]]:
    totals: dict[str, int] = defaultdict(int)
    for e in entries:
        totals[e["author_name"] or "—"] += e["minutes"]
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))


async def export_csv(actor_id: int, period: Period, now: datetime) -> tuple[str, str]:
    """(file name, CSV) of the period's entries, with Japanese headers; the export is audited."""
    entries = await entries_in(period)
    with exports.csv_language():
        headers = [_("Day"), _("Written by"), _("What was done"), _("Minutes spent"), _("Related")]
    rows = [[e["day"].isoformat(), e["author_name"] or "", e["work"], e["minutes"],
             " / ".join(link["label"] for link in e["links"])] for e in entries]
    await exports.record_export(actor_id, "diary", "", {"from": period.start.isoformat(), "to": period.end.isoformat(),
                                                         "rows": len(rows)}, now)
    return f"diary-{period.start.isoformat()}-{period.end.isoformat()}.csv", exports.csv_text(headers, rows)
