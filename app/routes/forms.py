"""Reading forms the same way everywhere: lists for repeated fields, "" for fields not sent."""

from __future__ import annotations

from litestar import Request
from litestar.datastructures import UploadFile

from app.i18n import gettext as _


class FormValues(dict):
    """The form as sent. A field the browser did not send reads as "" (a hand-made or cut-short request must
    get its form back with messages, not a page that fails on the missing field)."""

    def __missing__(self, key: str) -> str:
        return ""


async def form_dict(request: Request) -> FormValues:
    """A submitted form as a dict: repeated names (checkboxes) become lists, the CSRF field is dropped."""
    form = await request.form()
    out = FormValues()
    for key in form.keys():
        if key == "_csrf_token":
            continue
        values = form.getall(key)
        out[key] = values if len(values) > 1 or key in ("ties", "interests", "areas") else values[0]
    return out


def single_values(form: dict) -> FormValues:
    """What was typed, one value per field (the first of repeated ones), to show again next to the errors. A file
    sent where text is expected (a hand-made multipart request) reads as nothing typed."""
    def typed(value):
        value = value[0] if isinstance(value, list) and value else value
        return value if isinstance(value, str) else ""

    return FormValues({key: typed(value) for key, value in form.items()})


async def uploaded_file(request: Request, name: str, limit: int) -> tuple[bytes, str]:
    """(the bytes of the file sent as `name`, its name), at most `limit` + 1 bytes read so the caller can tell
    "too big"; (b"", "") when no file was chosen (or the field is text)."""
    form = await request.form()
    upload = form.get(name)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return b"", ""
    return await upload.read(limit + 1), upload.filename


def fiscal_year(text: str, current: int) -> tuple[int, dict[str, str]]:
    """A fiscal year chosen in a page's query (`?year=2026`): the year and no error, or this year with the error
    to show next to the year field."""
    if not text:
        return current, {}
    if text.isdecimal() and len(text) == 4 and 2000 <= int(text) <= 2100:
        return int(text), {}
    return current, {"year": _("Enter a year such as %(year)d.", year=current)}


def page_number(text: str) -> int:
    """A list's page from the address (1-based): anything but a plain number from 1 to 9999 is the first page."""
    return int(text) if text.isascii() and text.isdecimal() and len(text) <= 4 and int(text) >= 1 else 1


async def uploaded_files(request: Request, name: str, limit: int, count: int) -> list[bytes]:
    """The files chosen in a field that takes several (`<input type="file" multiple>`): the first `count` + 1 of them
    (so the caller can tell "too many"), each read to at most `limit` + 1 bytes (so it can tell "too big")."""
    form = await request.form()
    chosen = [upload for upload in form.getall(name, []) if isinstance(upload, UploadFile) and upload.filename]
    return [await upload.read(limit + 1) for upload in chosen[: count + 1]]
