"""Saved answers (reply templates) staff insert into a reply: written per category or for all, with the
asker's {name} and {reference} filled in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from app.i18n import gettext as _
from app.services.desk.common import CATEGORIES, InquiryInvalid, InquiryRefused, check_message
from app.services.desk.validation import form_text
from app.services.shared import clock
from db.tables import ReplyTemplate

TEMPLATE_TITLE_MAX = 100


@dataclass
class TemplateValues:
    title: str = ""
    body: str = ""
    category: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def validate_template(form: dict) -> TemplateValues:
    values = TemplateValues(title=form_text(form, "title"), body=form_text(form, "body"), category=form_text(form, "category"))
    if not values.title:
        values.errors["title"] = _("Enter a title.")
    elif len(values.title) > TEMPLATE_TITLE_MAX:
        values.errors["title"] = _("Use %(max)d characters or fewer.", max=TEMPLATE_TITLE_MAX)
    body_error = check_message(values.body)
    if body_error:
        values.errors["body"] = body_error
    if values.category and values.category not in CATEGORIES:
        values.errors["category"] = _("Choose from the list.")
    if values.errors:
        raise InquiryInvalid(values.errors)
    return values


async def save_template(values: TemplateValues, staff_id: int, template_id: int | None = None,
                        now: datetime | None = None) -> int:
    now = now or clock.now()
    columns = {ReplyTemplate.title: values.title, ReplyTemplate.body: values.body,
               ReplyTemplate.category: values.category, ReplyTemplate.updated_by: staff_id,
               ReplyTemplate.updated_at: now}
    if template_id is None:
        rows = await ReplyTemplate.insert(ReplyTemplate(**{c._meta.name: v for c, v in columns.items()})).returning(
            ReplyTemplate.id)
        return rows[0]["id"]
    if not await ReplyTemplate.update(columns).where(ReplyTemplate.id == template_id).returning(ReplyTemplate.id):
        raise InquiryRefused("not_found")
    return template_id


async def delete_template(template_id: int) -> None:
    if not await ReplyTemplate.delete().where(ReplyTemplate.id == template_id).returning(ReplyTemplate.id):
        raise InquiryRefused("not_found")


async def templates(category: str = "") -> list[dict]:
    """Saved answers; with a category, that category's first, then the general ones and the rest."""
    rows = await ReplyTemplate.select(
        *ReplyTemplate.all_columns(), ReplyTemplate.updated_by.display_name.as_alias("updated_by_name")
    ).order_by(ReplyTemplate.title)
    return sorted(rows, key=lambda r: (r["category"] != category, r["category"] != "", r["title"])) if category else rows


async def get_template(template_id: int) -> dict | None:
    return await ReplyTemplate.select().where(ReplyTemplate.id == template_id).first()


def fill_template(body: str, inquiry: dict) -> str:
    """A template's {name} and {reference} filled in for this asker."""
    return body.replace("{name}", inquiry["name"]).replace("{reference}", inquiry["reference"])
