from litestar import Request, get, post
from litestar.datastructures import Cookie
from litestar.params import URLEncodedBody
from litestar.response import Response

from app.auth import current_account
from app.i18n import LOCALE_COOKIE, LOCALES
from app.rendering import safe_next, see_other
from app.services.membership import membership
from db.engine import connection_losses, ping

ONE_YEAR_S = 60 * 60 * 24 * 365


@get("/healthz", name="get_healthz", cache_control=None)
async def get_healthz(request: Request) -> Response:
    engine = request.app.state.engine
    lost = connection_losses(engine)
    try:
        await ping(engine)
    except Exception as exc:  # report, don't raise: a health check answers, it does not crash
        return Response({"status": "error", "database": type(exc).__name__, **lost}, status_code=503)
    return Response({"status": "ok", "database": "ok", **lost})


@post("/locale", name="set_locale")
async def set_locale(request: Request, data: URLEncodedBody[dict[str, str]]) -> Response:
    lang = data.get("lang", "")
    response = see_other(request, safe_next(data.get("next")))
    if lang in LOCALES:
        settings = request.app.state.settings
        response.cookies.append(
            Cookie(key=LOCALE_COOKIE, value=lang, max_age=ONE_YEAR_S, samesite="lax", secure=settings.secure_cookies)
        )
        account = current_account(request)
        if account is not None:
            await membership.remember_locale(account.id, lang)
    return response


handlers = [get_healthz, set_locale]
