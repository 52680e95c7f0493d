"""Articles: the public list and article pages; the editors' list and form; image uploads (feeds: feeds.py)."""

from __future__ import annotations

from typing import Annotated

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import File

from app import guards
from app.auth import account_asking, current_account
from app.i18n import gettext as _
from app.page_cache import counted_page
from app.rendering import page, see_other
from app.routes.forms import form_dict
from app.services.articles import articles
from app.services.articles.articles import KINDS, STATUSES, ArticleInvalid, ArticleValues
from app.services.campaigns import campaigns
from app.services.portal import static_export
from app.services.programs import areas
from app.services.review import revisions
from app.services.review.revisions import RevisionRefused
from app.services.review.workflow import WorkflowRefused
from app.services.shared import clock, markdown, social_posts, uploads
from app.services.shared.actor import Actor
from app.settings import Settings
from app.static_pages import is_static_export

EDITORS = [guards.editor_or_staff]
LIST_PAGE = 20
# Stored names are random and never reused, so a stored image never changes: browsers may keep it.
UPLOAD_CACHE = "public, max-age=31536000, immutable"
# A personal document: no proxy, browser or service worker keeps a copy that outlives its erasure or a logout.
PRIVATE_UPLOAD_CACHE = "private, no-store"
# Files and the feeds are fetched without cookies in mind: no session, no CSRF cookie on them.
NO_SESSION = {"skip_session": True, "exclude_from_csrf": True}
PageNo = Annotated[int, QueryParameter(name="page", ge=1, le=1000)]
UploadedName = Annotated[str, QueryParameter(name="uploaded")]


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _url(request: Request, name: str, **params) -> str:
    return request.app.route_reverse(name, **params)


def _absolute(request: Request, path: str) -> str:
    return _settings(request).base_url + path


def _actor(request: Request) -> Actor:
    account = current_account(request)
    return Actor.of(account)


def _kinds() -> list[tuple[str, str]]:
    return [(code, str(label)) for code, label in KINDS.items()]


# Public pages ---------------------------------------------------------------------------------------


@get("/articles", name="list_articles", opt=counted_page("article"))
async def list_articles(request: Request, kind: FromQuery[str] = "", page_no: PageNo = 1) -> object:
    kind = kind if kind in KINDS else ""
    # The static export has no second page to go to: its list holds every article it takes, on one page.
    per_page = static_export.MAX_ARTICLES if is_static_export(request.scope) else LIST_PAGE
    rows = await articles.published_articles(kind, limit=per_page + 1, offset=(page_no - 1) * per_page)
    context = {
        "articles": rows[:per_page],
        "more": len(rows) > per_page,
        "page_no": page_no,
        "kind": kind,
        "kinds": _kinds(),
        "kind_label": articles.kind_label,
    }
    return page(request, "articles/list.html", context, fragment="articles/_article_rows.html")


@get("/articles/{article_id:int}", name="get_article", opt=counted_page("article"))
async def get_article(request: Request, article_id: FromPath[int]) -> object:
    article = await articles.article_for_public(article_id)
    if article is None:
        raise NotFoundException()
    description = article["lead"] or markdown.plain_text(article["body"], 200)
    context = {
        "article": article,
        "body_html": markdown.render(article["body"]),
        "kind_label": articles.kind_label,
        "description": description,
        "canonical": _absolute(request, _url(request, "get_article", article_id=article_id)),
        "og_image": _absolute(request, article["cover_image"]) if article["cover_image"] else "",
    }
    return page(request, "articles/detail.html", context)


@get("/uploads/{name:str}", name="get_upload", opt=NO_SESSION)
async def get_upload(request: Request, name: FromPath[str]) -> File:
    found = await uploads.find(name, _settings(request).var_dir)
    # Only a private upload needs to know who asks: public ones, on every public page, cost no login lookup.
    account = await account_asking(request) if found is not None and found.private else None
    if found is None or not uploads.may_see(found.private, found.uploaded_by, account and Actor.of(account)):
        raise NotFoundException()  # the same answer as for no such file: a private one is never revealed
    return File(
        found.path, media_type=found.content_type,
        content_disposition_type="attachment" if found.content_type == uploads.PDF_TYPE else "inline",
        headers={
            "Cache-Control": PRIVATE_UPLOAD_CACHE if found.private else UPLOAD_CACHE,
            "X-Content-Type-Options": "nosniff",
            # Opened on its own, an upload is an image and nothing else: no script, no frame, no form.
            "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox",
        },
    )


# Editors and staff ------------------------------------------------------------------------------------


@get("/editor/articles", name="list_editor_articles", guards=EDITORS, cache_control=None)
async def list_editor_articles(request: Request, status: FromQuery[str] = "") -> object:
    status = status if status in STATUSES else ""
    actor = _actor(request)
    rows = await articles.articles_for(actor, status)
    context = {
        "articles": rows,
        "pending": await revisions.pending_ids(articles.REVISIONS),
        "is_editor": actor.role == "editor",
        "status": status,
        "statuses": [(code, str(label)) for code, label in STATUSES.items()],
        "kind_label": articles.kind_label,
        "status_label": articles.status_label,
    }
    return page(request, "articles/editor_list.html", context, fragment="articles/_editor_rows.html", cache="no-store")


async def form_context(request: Request, values: ArticleValues, errors: dict[str, str], article: dict | None = None) -> dict:
    actor = _actor(request)
    revision = await articles.pending_revision(article["id"]) if article else None
    area_name = await areas.area_name(actor.area_id) if actor.role == "editor" else ""
    return {
        "values": values,
        "errors": errors,
        "article": article,
        "kinds": _kinds(),
        "area_options": [(a["id"], a["name"]) for a in await areas.choices()],
        "area_name": area_name,
        "program_options": [
            (p["id"], f'{p["title"]} ({p["area_name"]})') for p in await articles.program_choices(actor)
        ],
        "is_editor": actor.role == "editor",
        "locked": actor.role == "editor" and article is not None and article["status"] not in articles.EDITABLE_BY_EDITOR,
        # An editor's change to a published article waits for review; the form then shows the proposed version.
        "proposes": article is not None and articles.proposes_revision(article, actor),
        "revision": revision,
        "status_label": articles.status_label,
        "kind_label": articles.kind_label,
        "limits": {"title": articles.TITLE_MAX, "lead": articles.LEAD_MAX, "body": articles.BODY_MAX},
        "max_mb": uploads.MAX_BYTES // (1024 * 1024),
    }


def _values_of(article: dict) -> ArticleValues:
    return ArticleValues(
        kind=article["kind"], title=article["title"], lead=article["lead"], body=article["body"],
        cover_image=article["cover_image"], program_id=article["program"], area_id=article["area"],
    )


async def _read_form(request: Request, actor: Actor) -> tuple[ArticleValues, uploads.PreparedImage | None, dict, dict]:
    """(values, checked cover image, errors, raw form). Nothing is written here."""
    form = await form_dict(request)
    errors: dict[str, str] = {}
    try:
        values = await articles.validate_article(form, actor)
    except ArticleInvalid as invalid:
        values, errors = invalid.values, dict(invalid.errors)
    cover = None
    upload = form.get("cover_file")
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(uploads.MAX_BYTES + 1)
        try:
            cover = await uploads.prepare_image(data)
        except uploads.UploadRefused as refused:
            errors["cover_file"] = refused.message
        else:
            if errors:
                errors["cover_file"] = _("Choose the image again: it is kept only when the article is saved.")
    return values, cover, errors, form


def _form_page(request: Request, context: dict, status_code: int = 200) -> object:
    return page(request, "articles/form.html", context, fragment="articles/_form.html", status_code=status_code,
                cache="no-store")


@get("/editor/articles/new", name="new_article", guards=EDITORS, cache_control=None)
async def new_article(request: Request) -> object:
    return _form_page(request, await form_context(request, ArticleValues(), {}))


@post("/editor/articles", name="create_article", guards=EDITORS)
async def create_article(request: Request) -> object:
    actor = _actor(request)
    values, cover, errors, form = await _read_form(request, actor)
    if errors:
        return _form_page(request, await form_context(request, values, errors), status_code=422)
    article_id = await articles.create_article(actor, values, cover, _settings(request).var_dir)
    if form.get("then") == "submit":
        await articles.transition(article_id, actor, "submitted")
        request.session["flash"] = _("The article was sent to the secretariat for review.")
    else:
        request.session["flash"] = _("The draft was saved.")
    return see_other(request, _url(request, "edit_article", article_id=article_id))


async def _article_for(request: Request, article_id: int) -> dict:
    """The article if this person may work on it: 404 if unknown, 403 if another area's."""
    article = await articles.get_article(article_id)
    if article is None:
        raise NotFoundException()
    actor = _actor(request)
    if actor.outside_area(article["area"]):
        raise PermissionDeniedException()
    return article


@get("/editor/articles/{article_id:int}", name="edit_article", guards=EDITORS, cache_control=None)
async def edit_article(request: Request, article_id: FromPath[int]) -> object:
    article = await _article_for(request, article_id)
    shown = article
    if articles.proposes_revision(article, _actor(request)):
        # The editor keeps working on their change waiting for review, not on the published version.
        shown = await articles.proposed_article(article_id, await articles.pending_revision(article_id)) or article
    context = await form_context(request, _values_of(shown), {}, article)
    context["preview_article"] = shown
    context["body_html"] = markdown.render(shown["body"])
    if article["status"] == "published":
        settings = _settings(request)
        links = await campaigns.official_account_links(_url(request, "get_article", article_id=article_id),
                                                       settings.base_url, clock.now())
        context["social_posts"] = social_posts.posts(article["title"], article["lead"], links,
                                                     settings.branding.region_name, article.get("area_name") or "")
    return _form_page(request, context)


@get("/editor/articles/{article_id:int}/preview", name="get_article_preview", guards=EDITORS, cache_control=None)
async def get_article_preview(request: Request, article_id: FromPath[int]) -> object:
    """The article as it will appear once published, in any status (the moderation queue links here)."""
    article = await _article_for(request, article_id)
    return page(request, "articles/preview.html", articles.preview_context(article), cache="no-store")


@get("/staff/preview/article-revision/{revision_id:int}", name="get_article_revision_preview",
     guards=[guards.staff], cache_control=None)
async def get_article_revision_preview(request: Request, revision_id: FromPath[int]) -> object:
    """A change waiting for review, shown as the public page will look once it is approved."""
    proposed = await articles.proposed_by_revision(revision_id)
    if proposed is None:
        raise NotFoundException()
    article, revision = proposed
    return page(request, "articles/preview.html", {**articles.preview_context(article), "revision": revision},
                cache="no-store")


@post("/editor/articles/{article_id:int}", name="update_article", guards=EDITORS)
async def update_article(request: Request, article_id: FromPath[int]) -> object:
    article = await _article_for(request, article_id)
    actor = _actor(request)
    values, cover, errors, form = await _read_form(request, actor)
    if not errors:
        try:
            status = await articles.update_article(article_id, actor, values, cover, _settings(request).var_dir)
        except (WorkflowRefused, RevisionRefused) as refused:
            errors["form"] = _refusal_message(refused.reason)
    if errors:
        context = await form_context(request, values, errors, await articles.get_article(article_id) or article)
        return _form_page(request, context, status_code=409 if "form" in errors else 422)
    if status == revisions.PROPOSED:
        request.session["flash"] = revisions.saved_message(bool(await articles.pending_revision(article_id)))
    elif form.get("then") == "submit" and (status, "submitted") in articles.TRANSITIONS[actor.role]:
        await articles.transition(article_id, actor, "submitted")
        request.session["flash"] = _("The article was sent to the secretariat for review.")
    else:
        request.session["flash"] = _("The changes were saved.")
    return see_other(request, _url(request, "edit_article", article_id=article_id))


def _refusal_message(reason: str) -> str:
    return {
        "in_review": _("The secretariat is reviewing this article. You can change it again once they decide."),
        "changed_meanwhile": _("Someone changed this article meanwhile. Reload the page and try again."),
        "not_allowed": _("This article cannot be sent for review in its current state."),
        "no_revision": _("No change is waiting for review any more: the secretariat may have decided on it already."),
    }.get(reason, _("This change is not possible."))


@post("/editor/articles/{article_id:int}/revision/withdraw", name="withdraw_article_revision", guards=EDITORS)
async def withdraw_article_revision(request: Request, article_id: FromPath[int]) -> object:
    """Take back a change waiting for review: the published version stays as it is."""
    await _article_for(request, article_id)
    try:
        await articles.withdraw_revision(article_id, _actor(request))
    except RevisionRefused as refused:
        request.session["flash"] = _refusal_message(refused.reason)
    else:
        request.session["flash"] = _("Your change was withdrawn. The published version stays as it is.")
    return see_other(request, _url(request, "edit_article", article_id=article_id))


@post("/editor/articles/{article_id:int}/submit", name="submit_article", guards=EDITORS)
async def submit_article(request: Request, article_id: FromPath[int]) -> object:
    await _article_for(request, article_id)
    try:
        await articles.transition(article_id, _actor(request), "submitted")
    except WorkflowRefused as refused:
        request.session["flash"] = _refusal_message(refused.reason)
    else:
        request.session["flash"] = _("The article was sent to the secretariat for review.")
    return see_other(request, _url(request, "edit_article", article_id=article_id))


# Images for article and program bodies ----------------------------------------------------------------


@get("/editor/uploads", name="new_upload", guards=EDITORS, cache_control=None)
async def new_upload(request: Request, uploaded: UploadedName = "") -> object:
    """The upload form; after an upload it also shows the image and the line to paste into a body."""
    url = uploads.URL_PREFIX + uploaded if uploaded and uploads.NAME.match(uploaded) else ""
    return _upload_page(request, url, {})


def _upload_page(request: Request, url: str, errors: dict[str, str], status_code: int = 200) -> object:
    context = {"url": url, "errors": errors, "max_mb": uploads.MAX_BYTES // (1024 * 1024)}
    return page(request, "articles/upload.html", context, fragment="articles/_upload_form.html",
                status_code=status_code, cache="no-store")


@post("/editor/uploads", name="create_upload", guards=EDITORS)
async def create_upload(request: Request) -> object:
    upload = (await form_dict(request)).get("file")
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise uploads.UploadRefused("empty")
        data = await upload.read(uploads.MAX_BYTES + 1)
        url = await uploads.save_image(data, _settings(request).var_dir, _actor(request).account_id)
    except uploads.UploadRefused as refused:
        return _upload_page(request, "", {"file": refused.message}, status_code=422)
    request.session["flash"] = _("The image was uploaded.")
    return see_other(request, _url(request, "new_upload") + "?uploaded=" + uploads.name_of(url))


handlers = [
    get_article_revision_preview, list_articles, get_article, get_upload, list_editor_articles, new_article, create_article,
    edit_article, get_article_preview, update_article, submit_article, withdraw_article_revision, new_upload,
    create_upload,
]
