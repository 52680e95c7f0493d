"""Reading forms the same way everywhere: lists for repeated fields."""

from __future__ import annotations

from litestar import Request


async def form_dict(request: Request) -> dict[str, str | list[str]]:
    """A submitted form as a dict: repeated names (checkboxes) become lists, the CSRF field is dropped."""
    form = await request.form()
    out: dict[str, str | list[str]] = {}
    for key in form.keys():
        if key == "_csrf_token":
            continue
        values = form.getall(key)
        out[key] = values if len(values) > 1 or key in ("ties", "interests", "areas") else values[0]
    return out

