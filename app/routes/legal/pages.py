"""The pages a municipality publishes with the service: the privacy policy, the terms of use and the accessibility
policy. Each is a long text written per language (templates/legal/<name>_<locale>.html) from the installation's
settings, rather than hundreds of catalogue entries."""

from __future__ import annotations

from litestar import Request, get

from app.i18n import current_locale
from app.rendering import page
from app.services.legal import documents


def _legal_page(request: Request, document: documents.Document) -> object:
    settings = request.app.state.settings
    context = {"document": document, "publisher": settings.publisher,
               "periods": documents.periods(settings.retention_days)}
    return page(request, f"legal/{document.name}_{current_locale.get()}.html", context)


@get("/privacy", name="get_privacy")
async def get_privacy(request: Request) -> object:
    return _legal_page(request, documents.PRIVACY)


@get("/terms", name="get_terms")
async def get_terms(request: Request) -> object:
    return _legal_page(request, documents.TERMS)


@get("/accessibility", name="get_accessibility")
async def get_accessibility(request: Request) -> object:
    return _legal_page(request, documents.ACCESSIBILITY)


handlers = [get_privacy, get_terms, get_accessibility]
