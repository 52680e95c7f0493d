"""Articles (記事): recruitment, activity reports, interviews and news, reviewed like programs.

Editors write for their own area and submit; the secretariat (staff) publishes, sends back with a reason,
or unpublishes. Every change of status is written to the audit log, and the author hears of staff decisions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from piccolo.query import Count as CountQuery

from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.services.programs.programs import PUBLIC_STATUSES as PROGRAM_PUBLIC_STATUSES
from app.services.review import revisions, workflow
from app.services.review.workflow import WorkflowRefused
from app.services.shared import clock, markdown, uploads
from app.services.shared.actor import Actor
from app.services.shared.refusals import FormInvalid
from app.services.shared.uploads import PreparedImage
from db.engine import atomic, is_row_id
from db.tables import Area, Article, Program

__all__ = ["Actor", "WorkflowRefused"]

KINDS = {
    "recruitment": _l("Recruitment"),
    "report": _l("Activity report"),
    "interview": _l("Interview"),
    "news": _l("News article"),
}
STATUSES = {
    "draft": _l("Draft"),
    "submitted": _l("Awaiting review"),
    "published": _l("Published"),
    "rejected": _l("Sent back"),
}
# Who may move an article from which status to which (staff publishing, sending back and unpublishing).
TRANSITIONS = {
    "editor": {("draft", "submitted"), ("rejected", "submitted")},
    "staff": {
        ("draft", "submitted"), ("rejected", "submitted"), ("submitted", "published"), ("submitted", "rejected"),
        ("published", "rejected"),
    },
}
# An editor may change an article while it is theirs to work on; a change to a published one waits for
# review as a revision (app/services/revisions.py) while the public keeps the published version.
EDITABLE_BY_EDITOR = ("draft", "rejected", "published")
REVISED_STATUSES = ("published",)
TITLE_MAX, LEAD_MAX, BODY_MAX, REASON_MAX = 120, 300, 20000, 500
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class ArticleInvalid(FormInvalid):
    """What was typed into the article form cannot be saved."""


@dataclass
class ArticleValues:
    kind: str = "news"
    title: str = ""
    lead: str = ""
    body: str = ""
    cover_image: str = ""
    program_id: int | None = None
    area_id: int | None = None


def kind_label(kind: str) -> str:
    return str(KINDS.get(kind, kind))


def status_label(status: str) -> str:
    return str(STATUSES.get(status, status))


def _id(text: str) -> int | None:
    """A row id typed into a form; anything else (letters, "１", a number too big for the column) is None."""
    return int(text) if text.isascii() and text.isdecimal() and len(text) <= 9 else None


def _text(form: dict, name: str) -> str:
    """A text field, trimmed, without control characters (they break feeds and are never typed on purpose)."""
    value = form.get(name, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return CONTROL.sub("", value).strip() if isinstance(value, str) else ""


async def _read_program(program_text: str, actor: Actor, values: ArticleValues, errors: dict[str, str]) -> dict | None:
    """The program the article is about (none when the field is empty), set on `values` if this actor may link it."""
    if not program_text:
        return None
    program = None
    if (program_id := _id(program_text)) is not None:
        program = await Program.select(Program.id, Program.area).where(Program.id == program_id).first()
    if program is None:
        errors["program"] = _("This program does not exist. Choose one from the list.")
    elif actor.outside_area(program["area"]):
        errors["program"] = _("Choose a program of your own area.")
    else:
        values.program_id = program["id"]
    return program


async def _read_area(area_text: str, actor: Actor, program: dict | None, values: ArticleValues,
                     errors: dict[str, str]) -> None:
    """The article's area: an editor's own; for staff the one chosen, else the linked program's."""
    area_id = _id(area_text)
    if actor.role == "editor":
        values.area_id = actor.area_id
        if actor.area_id is None:  # an editor account without an area must not write orphan articles
            errors["area"] = _("Your account has no area yet. Ask the secretariat to assign one.")
    elif area_id is not None and await Area.exists().where(Area.id == area_id):
        values.area_id = area_id
    elif area_text:
        errors["area"] = _("Choose the area.")
    elif program is not None:
        values.area_id = program["area"]  # news from the secretariat about a program belongs to its area


async def validate_article(form: dict, actor: Actor) -> ArticleValues:
    """Read the article form. Raises ArticleInvalid with a message per field; the database is only read."""
    errors: dict[str, str] = {}
    values = ArticleValues(
        kind=_text(form, "kind"),
        title=_text(form, "title"),
        lead=_text(form, "lead"),
        body=_text(form, "body").replace("\r\n", "\n"),
        cover_image="" if _text(form, "remove_cover") else _text(form, "cover_image"),
    )
    if values.kind not in KINDS:
        errors["kind"] = _("Choose from the list.")
    if not values.title:
        errors["title"] = _("Enter a title.")
    for name, limit in (("title", TITLE_MAX), ("lead", LEAD_MAX), ("body", BODY_MAX)):
        if len(getattr(values, name)) > limit:
            errors[name] = _("Use %(max)d characters or fewer.", max=limit)
    if values.cover_image and not await uploads.is_public(values.cover_image):
        errors["cover_image"] = _("Upload the cover image again.")
        values.cover_image = ""

    program = await _read_program(_text(form, "program"), actor, values, errors)
    await _read_area(_text(form, "area"), actor, program, values, errors)
    if errors:
        raise ArticleInvalid(errors, values)
    return values


def _columns(values: ArticleValues) -> dict:
    return {
        Article.kind: values.kind, Article.title: values.title, Article.lead: values.lead, Article.body: values.body,
        Article.cover_image: values.cover_image, Article.program: values.program_id, Article.area: values.area_id,
    }


async def _store_cover(values: ArticleValues, cover: PreparedImage | None, var_dir: Path | None, actor: Actor) -> str:
    """Store a newly chosen cover image and point the values at it; returns its URL ("" if none)."""
    if cover is None:
        return ""
    if var_dir is None:
        raise ValueError("var_dir is needed to store a cover image")
    values.cover_image = await uploads.store(cover, var_dir, actor.account_id)
    return values.cover_image


async def create_article(actor: Actor, values: ArticleValues, cover: PreparedImage | None = None,
                         var_dir: Path | None = None) -> int:
    """A new draft, with its cover image if one was chosen: both are saved, or neither (no row, no file)."""
    now = clock.now()
    stored = ""
    try:
        async with atomic(Article._meta.db):
            stored = await _store_cover(values, cover, var_dir, actor)
            row = {column._meta.name: value for column, value in _columns(values).items()}
            rows = await Article.insert(
                Article(**row, status="draft", author=actor.account_id, created_at=now, updated_at=now)
            ).returning(Article.id)
    except BaseException:
        if stored:
            await uploads.discard(stored, var_dir)
        raise
    return rows[0]["id"]


async def editable(article_id: int, actor: Actor) -> dict:
    """The article if this actor may edit it: editors only their area's, and not while staff review it."""
    article = await Article.select().where(Article.id == article_id).first() if is_row_id(article_id) else None
    if article is None:
        raise WorkflowRefused("not_found")
    if actor.outside_area(article["area"]):
        raise WorkflowRefused("not_your_area")
    if actor.role == "editor" and article["status"] not in EDITABLE_BY_EDITOR:
        raise WorkflowRefused("in_review")
    if actor.role not in TRANSITIONS:
        raise WorkflowRefused("not_allowed")
    return article


def proposes_revision(article: dict, actor: Actor) -> bool:
    """Whether this actor's change to the article waits for review while the public keeps the published one."""
    return actor.role == "editor" and article["status"] in REVISED_STATUSES


async def update_article(article_id: int, actor: Actor, values: ArticleValues, cover: PreparedImage | None = None,
                         var_dir: Path | None = None) -> str:
    """Save changes and return the status after them, or revisions.PROPOSED when an editor changed a published
    article: then the change waits for review as a revision and the public page keeps the published version
    (staff changes apply at once). A new cover image is kept only if the change is saved."""
    article = await editable(article_id, actor)
    stored = ""
    try:
        if proposes_revision(article, actor):
            stored = await _store_cover(values, cover, var_dir, actor)
            proposed = {column._meta.name: value for column, value in _columns(values).items()}
            await revisions.propose(REVISIONS, article, proposed, actor.account_id)
            return revisions.PROPOSED
        async with atomic(Article._meta.db):
            stored = await _store_cover(values, cover, var_dir, actor)
            changes = _columns(values) | {Article.updated_at: clock.now()}
            updated = await Article.update(changes).where(
                (Article.id == article_id) & (Article.status == article["status"])
            ).returning(Article.id)
            if not updated:
                raise WorkflowRefused("changed_meanwhile")
    except BaseException:
        if stored:
            await uploads.discard(stored, var_dir)
        raise
    return article["status"]


async def pending_revision(article_id: int) -> dict | None:
    return await workflow.pending_revision(WORKFLOW, article_id)


async def withdraw_revision(article_id: int, actor: Actor) -> None:
    await workflow.withdraw_revision(WORKFLOW, article_id, actor)


async def transition(article_id: int, actor: Actor, to_status: str, reason: str = "") -> None:
    """Move an article along the review workflow (review/workflow.py). Raises WorkflowRefused."""
    await workflow.transition(WORKFLOW, article_id, actor, to_status, reason)


_LIST_COLUMNS = (
    Article.id, Article.kind, Article.title, Article.lead, Article.cover_image, Article.status,
    Article.status_reason, Article.area, Article.program, Article.published_at, Article.updated_at,
)


async def articles_for(actor: Actor, status: str = "", limit: int = 200) -> list[dict]:
    """The editor's and staff's list: an editor sees their area's articles, staff see all; newest change first."""
    query = Article.select(
        *_LIST_COLUMNS, Article.area.name.as_alias("area_name"), Article.author.display_name.as_alias("author_name")
    )
    if actor.role == "editor":
        query = query.where(Article.area == actor.area_id)
    if status in STATUSES:
        query = query.where(Article.status == status)
    return await query.order_by(Article.updated_at, ascending=False).order_by(Article.id, ascending=False).limit(limit)


async def submitted_articles(kind: str = "", area_id: int | None = None) -> list[dict]:
    """The moderation queue's articles, oldest submission first:
    id, title, kind, area_name, author_name, updated_at (plus lead and area)."""
    query = Article.select(
        Article.id, Article.title, Article.kind, Article.lead, Article.area, Article.updated_at,
        Article.area.name.as_alias("area_name"), Article.author.display_name.as_alias("author_name"),
    ).where(Article.status == "submitted")
    if kind in KINDS:
        query = query.where(Article.kind == kind)
    if area_id:
        query = query.where(Article.area == area_id)
    return await query.order_by(Article.updated_at).order_by(Article.id)


def submitted_count() -> CountQuery:
    """How many articles submitted_articles() lists, unfiltered. A query: awaited, the number."""
    return Article.count().where(Article.status == "submitted")


async def get_article(article_id: int) -> dict | None:
    """One article in any status, with its area, author and program (for editing and for the staff preview)."""
    if not is_row_id(article_id):
        return None
    return await Article.select(
        *Article.all_columns(), Article.area.name.as_alias("area_name"),
        Article.author.display_name.as_alias("author_name"), Article.program.title.as_alias("program_title"),
        Article.program.status.as_alias("program_status"),
    ).where(Article.id == article_id).first()


async def proposed_article(article_id: int, revision: dict | None) -> dict | None:
    """The article as it will be once its change waiting for review is approved (get_article's keys)."""
    article = await get_article(article_id)
    if article is None or revision is None:
        return article
    article = revisions.merged(article, revision)
    program = await Program.select(Program.title, Program.status).where(Program.id == article["program"]).first() \
        if article["program"] else None
    article["program_title"] = program["title"] if program else None
    article["program_status"] = program["status"] if program else None
    return article


async def published_articles(kind: str = "", limit: int = 20, offset: int = 0, area_id: int | None = None) -> list[dict]:
    """Published articles, newest first, for the portal, the public list and the feed."""
    query = Article.select(
        *_LIST_COLUMNS, Article.body, Article.area.name.as_alias("area_name"),
        Article.author.display_name.as_alias("author_name"),
    ).where(Article.status == "published")
    if kind in KINDS:
        query = query.where(Article.kind == kind)
    if area_id:
        query = query.where(Article.area == area_id)
    return await query.order_by(Article.published_at, ascending=False).order_by(Article.id, ascending=False).limit(
        limit
    ).offset(offset)


async def article_for_public(article_id: int) -> dict | None:
    """A published article for its public page, or None. The linked program is shown only once it is public."""
    article = await get_article(article_id)
    if article is None or article["status"] != "published":
        return None
    if article["program_status"] not in PROGRAM_PUBLIC_STATUSES:
        article["program"] = None
    return article


async def program_choices(actor: Actor) -> list[dict]:
    """Programs an article may link to: an editor's own area's, or all for staff; newest first."""
    query = Program.select(Program.id, Program.title, Program.area.name.as_alias("area_name"))
    if actor.role == "editor":
        query = query.where(Program.area == actor.area_id)
    return await query.order_by(Program.starts_at, ascending=False).limit(200)


# Changes to a published article wait for review as revisions (app/services/revisions.py) ------------------


async def _describe(name: str, value) -> str:
    if name == "kind":
        return kind_label(value)
    if name == "program":
        program = await Program.select(Program.title).where(Program.id == value).first()
        return program["title"] if program else "—"
    return str(value)


def article_path(article_id: int) -> str:
    """The article's public page (routes/articles.py `get_article`), for links in notices."""
    return f"/articles/{article_id}"


REVISIONS = revisions.Kind(
    name="article",
    table=Article,
    fields={
        "kind": _l("Kind of article"), "title": _l("Title"), "lead": _l("Lead"), "body": _l("Body"),
        "cover_image": _l("Cover image"), "program": _l("Related program"),
    },
    long=frozenset({"body", "cover_image"}),
    proposable=REVISED_STATUSES,
    public=("published",),
    describe=_describe,
    path=article_path,
)
WORKFLOW = workflow.Workflow(REVISIONS, TRANSITIONS)


async def proposed_by_revision(revision_id: int) -> tuple[dict, dict] | None:
    """(the article as it will be once this change is approved, the change); None if it is no article's."""
    revision = await revisions.by_id(REVISIONS, revision_id)
    if revision is None:
        return None
    article = await proposed_article(revision["item_id"], revision)
    return (article, revision) if article else None


def preview_context(article: dict) -> dict:
    """What articles/preview.html needs besides the request."""
    return {"article": article, "body_html": markdown.render(article["body"]), "kind_label": kind_label,
            "status_label": status_label}
