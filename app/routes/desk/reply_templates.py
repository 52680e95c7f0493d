"""The desk's saved reply templates, which staff insert into an answer (staff.py: compose_inquiry_reply)."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from app.auth import current_account
from app.i18n import gettext as _
from app.rendering import page, see_other
from app.routes.desk.public import labels
from app.routes.desk.staff import STAFF
from app.routes.forms import form_dict, single_values
from app.services.desk import reply_templates
from app.services.desk.common import CATEGORIES, MESSAGE_MAX, InquiryInvalid, InquiryRefused


def _to_list(request: Request) -> object:
    return see_other(request, request.app.route_reverse("list_reply_templates"))


@get("/staff/inquiries/templates", name="list_reply_templates", guards=STAFF, cache_control=None)
async def list_reply_templates(request: Request) -> object:
    return page(request, "desk/staff/templates.html", {"templates": await reply_templates.templates(), **labels()},
                cache="no-store")


async def _template_page(request: Request, values: dict, errors: dict, template_id: int | None = None,
                         status_code: int = 200):
    context = {"values": values, "errors": errors, "template_id": template_id, "message_max": MESSAGE_MAX,
               "categories": [(code, str(label)) for code, label in CATEGORIES.items()]}
    return page(request, "desk/staff/template_form.html", context, status_code=status_code, cache="no-store")


@get("/staff/inquiries/templates/new", name="new_reply_template", guards=STAFF, cache_control=None)
async def new_reply_template(request: Request) -> object:
    return await _template_page(request, {}, {})


@post("/staff/inquiries/templates", name="create_reply_template", guards=STAFF)
async def create_reply_template(request: Request) -> object:
    form = await form_dict(request)
    try:
        await reply_templates.save_template(reply_templates.validate_template(form), current_account(request).id)
    except InquiryInvalid as invalid:
        return await _template_page(request, single_values(form), invalid.errors, status_code=422)
    request.session["flash"] = _("The template is saved.")
    return _to_list(request)


async def _template(template_id: int) -> dict:
    template = await reply_templates.get_template(template_id)
    if template is None:
        raise NotFoundException()
    return template


@get("/staff/inquiries/templates/{template_id:int}", name="edit_reply_template", guards=STAFF, cache_control=None)
async def edit_reply_template(request: Request, template_id: FromPath[int]) -> object:
    return await _template_page(request, await _template(template_id), {}, template_id)


@post("/staff/inquiries/templates/{template_id:int}", name="update_reply_template", guards=STAFF)
async def update_reply_template(request: Request, template_id: FromPath[int]) -> object:
    await _template(template_id)
    form = await form_dict(request)
    try:
        await reply_templates.save_template(reply_templates.validate_template(form), current_account(request).id, template_id)
    except InquiryInvalid as invalid:
        return await _template_page(request, single_values(form), invalid.errors, template_id, 422)
    except InquiryRefused:  # deleted by someone else meanwhile
        raise NotFoundException() from None
    request.session["flash"] = _("The template is saved.")
    return _to_list(request)


@post("/staff/inquiries/templates/{template_id:int}/delete", name="delete_reply_template", guards=STAFF)
async def delete_reply_template(request: Request, template_id: FromPath[int]) -> object:
    try:
        await reply_templates.delete_template(template_id)
    except InquiryRefused:
        raise NotFoundException() from None
    request.session["flash"] = _("The template is deleted.")
    return _to_list(request)


handlers = [list_reply_templates, new_reply_template, create_reply_template, edit_reply_template,
            update_reply_template, delete_reply_template]
