"""The secretariat's portal editor: hero, link cards, the consultation desk's contact details and the
featured programs and articles. The preview is the public portal itself: every change clears this
process's portal cache, so the next visit shows it (other app processes within the cache's ten seconds).
"""

from __future__ import annotations

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from app import guards
from app.auth import current_account
from app.i18n import gettext as _
from app.rendering import page, see_other
from app.routes.forms import form_dict
from app.routes.portal.public import default_links
from app.services.desk.contact import Desk
from app.services.portal import admin as portal_admin
from app.services.portal import featured_admin
from app.services.portal.admin import HeroValues, LinkValues, PortalInvalid, PortalRefused
from app.services.shared import uploads
from app.settings import Settings

STAFF = [guards.staff]
REFUSALS = {
    "not_found": lambda: _("This item is no longer there. Reload the page."),
    "full": lambda: _("At most %(max)d can be featured. Remove one first.", max=featured_admin.FEATURED_MAX),
    "not_public": lambda: _("Only published programs and articles can be featured."),
    "links_exist": lambda: _("Link cards exist already: edit them instead."),
}


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _actor_id(request: Request) -> int:
    return current_account(request).id


def _url(request: Request, name: str, **params) -> str:
    return request.app.route_reverse(name, **params)


def _done(request: Request, message: str, anchor: str) -> object:
    """After a change: the portal cache of this process forgets its copy, and staff are back on the editor."""
    request.app.state.portal_cache.clear()
    request.session["flash"] = message
    return see_other(request, _url(request, "edit_portal") + anchor)


def _refused(request: Request, refused: PortalRefused, anchor: str) -> object:
    request.session["flash"] = REFUSALS[refused.reason]()
    return see_other(request, _url(request, "edit_portal") + anchor)


def _default_desk_name(request: Request) -> str:
    return _("%(site)s consultation desk", site=_settings(request).branding.site_name)


async def _editor_page(request: Request, *, hero: HeroValues | None = None, hero_errors: dict | None = None,
                       desk: Desk | None = None, desk_errors: dict | None = None,
                       status_code: int = 200) -> object:
    settings = _settings(request)
    context = {
        "hero": hero or await portal_admin.hero_values(settings.branding.site_name, settings.branding.tagline),
        "hero_errors": hero_errors or {},
        "desk": desk or await portal_admin.desk_values(_default_desk_name(request)),
        "desk_errors": desk_errors or {},
        "links": await portal_admin.link_blocks(),
        "default_links": default_links(settings),
        "featured": await featured_admin.featured_overview(),
        "choices": await featured_admin.featured_choices(),
        "icon_label": lambda code: str(portal_admin.ICONS.get(code, code)),
        "featured_max": featured_admin.FEATURED_MAX,
        "limits": {"hero_title": portal_admin.HERO_TITLE_MAX, "hero_body": portal_admin.HERO_BODY_MAX,
                   "alt": portal_admin.ALT_MAX, "desk_name": portal_admin.DESK_NAME_MAX,
                   "hours": portal_admin.HOURS_MAX},
        "max_mb": uploads.MAX_BYTES // (1024 * 1024),
    }
    return page(request, "portal/staff/index.html", context, status_code=status_code, cache="no-store")


@get("/staff/portal", name="edit_portal", guards=STAFF, cache_control=None)
async def edit_portal(request: Request) -> object:
    return await _editor_page(request)


# The hero ---------------------------------------------------------------------------------------------


@post("/staff/portal/hero", name="update_portal_hero", guards=STAFF)
async def update_portal_hero(request: Request) -> object:
    form = await form_dict(request)
    errors: dict[str, str] = {}
    try:
        values = await portal_admin.parse_hero(form)
    except PortalInvalid as invalid:
        values, errors = invalid.values, dict(invalid.errors)
    image = None
    upload = form.get("image_file")
    if isinstance(upload, UploadFile) and upload.filename:
        try:
            image = await uploads.prepare_image(await upload.read(uploads.MAX_BYTES + 1))
        except uploads.UploadRefused as refused:
            errors["image_file"] = refused.message
        else:
            if errors:
                errors["image_file"] = _("Choose the image again: it is kept only when the hero is saved.")
    if errors:
        return await _editor_page(request, hero=values, hero_errors=errors, status_code=422)
    await portal_admin.save_hero(values, image, _settings(request).var_dir, _actor_id(request))
    return _done(request, _("The hero was saved. The portal shows it now."), "#hero")


# Link cards -------------------------------------------------------------------------------------------


def _link_page(request: Request, values: LinkValues, errors: dict, block: dict | None, status_code: int = 200):
    context = {"values": values, "errors": errors, "block": block, "icons": portal_admin.icon_choices(),
               "limits": {"title": portal_admin.LINK_TITLE_MAX, "body": portal_admin.LINK_BODY_MAX,
                          "url": portal_admin.URL_MAX}}
    return page(request, "portal/staff/link.html", context, status_code=status_code, cache="no-store")


async def _link_or_404(block_id: int) -> dict:
    try:
        return await portal_admin.link_block(block_id)
    except PortalRefused:
        raise NotFoundException() from None


@get("/staff/portal/links/new", name="new_portal_link", guards=STAFF, cache_control=None)
async def new_portal_link(request: Request) -> object:
    return _link_page(request, LinkValues(), {}, None)


@post("/staff/portal/links", name="create_portal_link", guards=STAFF)
async def create_portal_link(request: Request) -> object:
    try:
        values = portal_admin.parse_link(await form_dict(request))
    except PortalInvalid as invalid:
        return _link_page(request, invalid.values, invalid.errors, None, status_code=422)
    await portal_admin.create_link(values, _actor_id(request))
    return _done(request, _("The link card was added. The portal shows it now."), "#links")


@get("/staff/portal/links/{block_id:int}", name="edit_portal_link", guards=STAFF, cache_control=None)
async def edit_portal_link(request: Request, block_id: FromPath[int]) -> object:
    block = await _link_or_404(block_id)
    return _link_page(request, portal_admin.link_values(block), {}, block)


@post("/staff/portal/links/{block_id:int}", name="update_portal_link", guards=STAFF)
async def update_portal_link(request: Request, block_id: FromPath[int]) -> object:
    block = await _link_or_404(block_id)
    try:
        values = portal_admin.parse_link(await form_dict(request))
    except PortalInvalid as invalid:
        return _link_page(request, invalid.values, invalid.errors, block, status_code=422)
    try:
        await portal_admin.update_link(block_id, values, _actor_id(request))
    except PortalRefused as refused:
        return _refused(request, refused, "#links")
    return _done(request, _("The link card was saved. The portal shows it now."), "#links")


@post("/staff/portal/links/{block_id:int}/move", name="move_portal_link", guards=STAFF)
async def move_portal_link(request: Request, block_id: FromPath[int]) -> object:
    direction = (await form_dict(request)).get("direction", "")
    try:
        await portal_admin.move_link(block_id, str(direction), _actor_id(request))
    except PortalRefused as refused:
        return _refused(request, refused, "#links")
    return _done(request, _("The order of the link cards was changed."), "#links")


@post("/staff/portal/links/{block_id:int}/visibility", name="set_portal_link_visibility", guards=STAFF)
async def set_portal_link_visibility(request: Request, block_id: FromPath[int]) -> object:
    shown = (await form_dict(request)).get("shown") == "1"
    try:
        await portal_admin.set_link_shown(block_id, shown, _actor_id(request))
    except PortalRefused as refused:
        return _refused(request, refused, "#links")
    message = _("The link card is shown on the portal again.") if shown else _("The link card is hidden from the portal.")
    return _done(request, message, "#links")


@post("/staff/portal/links/defaults", name="copy_default_portal_links", guards=STAFF)
async def copy_default_portal_links(request: Request) -> object:
    try:
        await portal_admin.copy_default_links(default_links(_settings(request)), _actor_id(request))
    except PortalRefused as refused:
        return _refused(request, refused, "#links")
    return _done(request, _("The default link cards can now be edited."), "#links")


# The consultation desk --------------------------------------------------------------------------------


@post("/staff/portal/desk", name="update_portal_desk", guards=STAFF)
async def update_portal_desk(request: Request) -> object:
    try:
        values = portal_admin.parse_desk(await form_dict(request))
    except PortalInvalid as invalid:
        return await _editor_page(request, desk=invalid.values, desk_errors=invalid.errors, status_code=422)
    await portal_admin.save_desk(values, _actor_id(request))
    return _done(request, _("The desk's contact details were saved. The portal shows them now."), "#desk")


# Featured programs and articles -----------------------------------------------------------------------


@post("/staff/portal/featured", name="update_portal_featured", guards=STAFF)
async def update_portal_featured(request: Request) -> object:
    form = await form_dict(request)
    item = str(form.get("item", ""))
    if not (item.isascii() and item.isdecimal() and len(item) <= 10):
        request.session["flash"] = _("Choose a program or an article from the list.")
        return see_other(request, _url(request, "edit_portal") + "#featured")
    try:
        await featured_admin.change_featured(str(form.get("operation", "")), str(form.get("kind", "")), int(item),
                                             _actor_id(request))
    except PortalRefused as refused:
        return _refused(request, refused, "#featured")
    return _done(request, _("The featured items were changed. The portal shows them now."), "#featured")


handlers = [
    edit_portal, update_portal_hero, new_portal_link, create_portal_link, edit_portal_link, update_portal_link,
    move_portal_link, set_portal_link_visibility, copy_default_portal_links, update_portal_desk,
    update_portal_featured,
]
