"""The yearly report (成果報告書): the free-text sections staff write, the photos of the year's articles, the
PDF and the ZIP of its tables, charts and photos (seed 004 §4(6): "with graphs, illustrations and photos",
also delivered as electronic data).

The PDF is the printable report page printed by headless Chromium (`--print-to-pdf`), so the file and
what staff see in their browser's print preview come from the same HTML and print stylesheet. Chromium is
looked up on the PATH; without it the PDF is refused with a message and the page can still be printed
from the browser.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.services.dashboard.figures import Dashboard
from app.services.dashboard.filters import fiscal_year_label
from app.services.dashboard.tables import build_tables, csv_filename
from app.services.programs.activities import fiscal_year_bounds
from app.services.shared import exports, uploads
from app.services.shared.refusals import FormInvalid
from db.engine import atomic, is_unique_violation
from db.tables import Article, AuditLog, ReportSection

SECTION_KEYS = ("effects", "issues", "direction")
SECTION_TITLES = {
    "effects": _l("Effects of this year's work"),
    "issues": _l("Issues"),
    "direction": _l("Direction for next year"),
}
SECTION_HINTS = {
    "effects": _l("What the figures and the participants' voices show: what changed in the region and for the people."),
    "issues": _l("What did not go as planned, and why."),
    "direction": _l("What to continue, change or start next year, with the targets in mind."),
}
SECTION_MAX = 8000
PHOTO_LIMIT = 12
def section_title(key: str) -> str:
    return str(SECTION_TITLES[key])


def section_hint(key: str) -> str:
    return str(SECTION_HINTS[key])


async def sections(fiscal_year: int) -> dict[str, str]:
    rows = await ReportSection.select(ReportSection.key, ReportSection.body).where(
        ReportSection.fiscal_year == fiscal_year
    )
    saved = {r["key"]: r["body"] for r in rows}
    return {key: saved.get(key, "") for key in SECTION_KEYS}


def parse_sections(form: dict) -> dict[str, str]:
    """The texts as typed (line ends made uniform); each at most SECTION_MAX characters."""
    values = {key: str(form.get(key, "") or "").replace("\r\n", "\n").strip() for key in SECTION_KEYS}
    errors = {
        key: _("Keep this section within %(max)s characters (now %(count)s).", max=f"{SECTION_MAX:,}",
               count=f"{len(text):,}")
        for key, text in values.items() if len(text) > SECTION_MAX
    }
    if errors:
        raise FormInvalid(errors, values)
    return values


class SectionsConflict(Exception):
    """Someone else saved this year's sections at the same moment."""


async def save_sections(fiscal_year: int, texts: dict[str, str], actor_id: int, now: datetime) -> None:
    """Every section of the form, or none, in one transaction; audited with the sections that changed."""
    current = {r["key"]: r["body"] for r in await ReportSection.select(ReportSection.key, ReportSection.body).where(
        ReportSection.fiscal_year == fiscal_year)}
    changed = [key for key in SECTION_KEYS if key in texts and current.get(key, "") != texts[key]]
    if not changed:
        return
    try:
        async with atomic(ReportSection._meta.db):
            for key in changed:
                values = {ReportSection.body: texts[key], ReportSection.updated_by: actor_id, ReportSection.updated_at: now}
                if key in current:
                    await ReportSection.update(values).where(
                        (ReportSection.fiscal_year == fiscal_year) & (ReportSection.key == key))
                else:
                    await ReportSection.insert(ReportSection(fiscal_year=fiscal_year, key=key, body=texts[key],
                                                             updated_by=actor_id, updated_at=now))
            await AuditLog.insert(AuditLog(actor=actor_id, action="report.sections", target_type="fiscal_year",
                                           target_id=str(fiscal_year), detail={"sections": changed}, created_at=now))
    except Exception as exc:
        if is_unique_violation(exc):
            raise SectionsConflict() from exc
        raise


def paragraphs(text: str) -> list[str]:
    """Paragraphs are separated by an empty line; single line breaks stay inside a paragraph."""
    return [part.strip() for part in re.split(r"\n\s*\n", text or "") if part.strip()]


@dataclass(frozen=True)
class Photo:
    title: str
    kind: str
    url: str  # /uploads/<name>
    name: str  # the stored file name
    path: Path


async def photos(fiscal_year: int, var_dir: Path, limit: int = PHOTO_LIMIT) -> list[Photo]:
    """Cover photos of the articles published in the year whose image is still on disk, newest first."""
    start, end = fiscal_year_bounds(fiscal_year)
    rows = await Article.select(Article.title, Article.kind, Article.cover_image).where(
        (Article.status == "published") & (Article.published_at >= start) & (Article.published_at < end)
        & (Article.cover_image != "")
    ).order_by(Article.published_at, ascending=False).order_by(Article.id, ascending=False)
    found = []
    for row in rows:
        name = uploads.name_of(row["cover_image"])
        located = await uploads.find(name, var_dir) if name else None
        if located and not located.private:  # a printed report goes anywhere: public pictures only
            found.append(Photo(row["title"], row["kind"], row["cover_image"], name, located.path))
        if len(found) >= limit:
            break
    return found


# PDF ---------------------------------------------------------------------------------------------------


def pdf_filename(fiscal_year: int) -> str:
    return f"report-fy{fiscal_year}.pdf"


# ZIP ---------------------------------------------------------------------------------------------------


def zip_filename(fiscal_year: int) -> str:
    return f"report-fy{fiscal_year}.zip"


def sections_text(year_label: str, texts: dict[str, str]) -> str:
    """The free-text sections as one plain-text file, for pasting into the municipality's own documents."""
    parts = [year_label]
    for key in SECTION_KEYS:
        parts.append(f"■ {section_title(key)}\n\n{texts.get(key, '').strip()}")
    return "\n\n".join(parts) + "\n"


def build_zip(figures: Dashboard, texts: dict[str, str], charts: dict[str, str], pictures: list[Photo]) -> bytes:
    """csv/ every table (Japanese headers, BOM), charts/ one SVG per chart, photos/ the articles' covers,
    and the written sections as text."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        with exports.csv_language():
            tables = build_tables(figures)
            archive.writestr("report.txt", sections_text(fiscal_year_label(figures.fiscal_year), texts))
        for table in tables:
            archive.writestr(f"csv/{csv_filename(table.key, figures)}",
                             exports.csv_text(table.headers, table.rows).encode("utf-8"))
        for key, svg in charts.items():
            archive.writestr(f"charts/{key}.svg", svg)
        for index, photo in enumerate(pictures, start=1):
            archive.write(photo.path, f"photos/{index:02d}-{photo.name}")
    return out.getvalue()


async def record_download(actor_id: int, kind: str, fiscal_year: int, now: datetime) -> None:
    """The PDF and the ZIP carry the year's figures: logged like every other staff export."""
    await exports.record_export(actor_id, "report", kind, {"fiscal_year": fiscal_year}, now, file_type=kind)
