"""The profile form's context, shared by registration and the profile page: the profile, its errors, and the choices."""

from __future__ import annotations

from app.i18n import current_locale
from app.services.legal.documents import PRIVACY, TERMS
from app.services.membership.membership import Profile
from app.services.programs import areas
from app.services.shared.reference import INTERESTS, PREFECTURES, TIES


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
        "privacy": PRIVACY,
        "terms": TERMS,
    }
