"""Reading forms the same way everywhere: lists for repeated fields, and the profile form's choices."""

from __future__ import annotations

from litestar import Request

from app.i18n import current_locale
from app.services.membership.membership import PRIVACY_POLICY_VERSION, Profile
from app.services.programs import areas
from app.services.shared.reference import INTERESTS, PREFECTURES, TIES


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


async def profile_form_context(profile: Profile, errors: dict[str, str]) -> dict:
    locale = current_locale.get()
    area_rows = await areas.choices()
    return {
        "profile": profile,
        "errors": errors,
        "prefectures": [(code, ja if locale == "ja" else en) for code, ja, en in PREFECTURES],
        "ties": [(code, str(label)) for code, label in TIES.items()],
        "interests": [(code, str(label)) for code, label in INTERESTS.items()],
        "areas": area_rows,
        "policy_version": PRIVACY_POLICY_VERSION,
    }
