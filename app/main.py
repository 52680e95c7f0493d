"""create_app(settings) -> Litestar. No import-time side effects: settings come in as an argument."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.logging import LoggingConfig
from litestar.plugins.htmx import HTMXRequest
from litestar.static_files import create_static_files_router
from litestar.stores.file import FileStore
from litestar.stores.redis import RedisStore
from litestar.template.config import TemplateConfig

from app import errors, guards, middleware
from app.auth import AUTH_COOKIE, AuthMiddleware, cookie_name
from app.compression import CompressedFiles
from app.page_cache import MEMBER_PAGE, PageCache
from app.push_sender import make_sender
from app.rate_limit import make_rate_limits
from app.routes import ROUTE_HANDLERS
from app.routes.campaigns.public import note_referral
from app.routes.console.nav import console_nav, load_attention
from app.services.campaigns import page_views
from app.services.notify.push_endpoints import PushHosts
from app.services.portal.portal import PortalCache
from app.services.shared.signed_tokens import TokenSigner
from app.sessions import LazySessionConfig
from app.settings import Settings
from app.templating import make_template_engine
from db.engine import bind, close_pool, make_engine, open_pool

STATIC_DIR = Path(__file__).parent / "static"
SESSION_MAX_AGE_S = 60 * 60 * 24 * 30
# Files and machine endpoints: no session, no CSRF cookie (they are cached and fetched without one).
NO_SESSION_PATHS = ["^/static/", "^/icons/", "^/uploads/", "^/sw.js$", "^/manifest.webmanifest$", "^/theme.css$", "^/healthz$",
                    "^/line/webhook$"]


def make_stores(settings: Settings) -> dict:
    """Sessions live outside the process when scaled out (rate limits: app/rate_limit.py)."""
    if settings.redis_url:
        root = RedisStore.with_client(url=settings.redis_url, namespace="tsunagu")
        return {"sessions": root.with_namespace("sessions")}
    return {"sessions": FileStore(settings.var_dir / "sessions", create_directories=True)}


def make_state(settings: Settings, engine) -> dict:
    """What handlers find in app.state, made from the settings (the tests give one app new settings this way)."""
    return {
        "settings": settings, "engine": engine, "portal_cache": PortalCache(), "push_sender": make_sender(settings),
        "push_hosts": PushHosts(settings.push_extra_hosts),
        # One signer per process: loading the key for every card or wallet page costs more than signing.
        "signer": TokenSigner(settings.signing_key),
        "rate_limits": make_rate_limits(settings),
        "page_cache": PageCache(settings.page_cache_seconds),
        "member_page_cache": PageCache(settings.member_page_cache_seconds, keeps=MEMBER_PAGE),
        "page_views": page_views.Tally(settings.secret_key),  # this process's counts, written by the timer in lifespan
    }


@asynccontextmanager
async def lifespan(app: Litestar):
    state = app.state
    await open_pool(state.engine)
    if state.settings.push_sender:
        await state.push_sender.start()
    counting = asyncio.create_task(page_views.flush_forever(state.page_views), name="page-views")
    try:
        yield
    finally:
        counting.cancel()
        with suppress(asyncio.CancelledError):
            await counting
        try:  # the last counts of this process
            await page_views.flush(state.page_views)
        except Exception:
            logging.getLogger("tsunagu.page_views").exception("the last page views could not be written")
        if state.settings.push_sender:
            await state.push_sender.stop()
        await state.rate_limits.counts.close()
        await close_pool(state.engine)


async def before_request(request) -> None:
    await note_referral(request)
    await load_attention(request)


# The tests make one app and give it each test's settings through make_state and the templates' globals; a setting
# read here besides belongs in BUILT_IN_SETTINGS (tests/conftest.py), or a test changing it would not see it.
def create_app(settings: Settings) -> Litestar:
    engine = make_engine(settings.database_url)
    bind(engine)
    session_cookie = cookie_name("tsunagu_session", settings.secure_cookies)
    csrf_config = CSRFConfig(
        secret=settings.secret_key,
        cookie_name=cookie_name("tsunagu_csrf", settings.secure_cookies),
        cookie_secure=settings.secure_cookies,
        cookie_httponly=True,
        cookie_samesite="lax",
        exclude=NO_SESSION_PATHS,
    )

    app = Litestar(
        route_handlers=[
            *ROUTE_HANDLERS,
            create_static_files_router(
                path="/static",
                directories=[STATIC_DIR],
                name="static",
                cache_control=None,  # set per URL by middleware.VersionedFiles
                # Pages are compressed by the front layer (app/compression.py); files here, once per process.
                middleware=[middleware.VersionedFiles, CompressedFiles],
            ),
        ],
        lifespan=[lifespan],
        guards=[guards.row_ids_in_range],
        before_request=before_request,
        request_class=HTMXRequest,
        template_config=TemplateConfig(engine=make_template_engine(settings)),
        stores=make_stores(settings),
        middleware=[
            LazySessionConfig(
                store="sessions",
                exclude=NO_SESSION_PATHS,
                key=session_cookie,
                max_age=SESSION_MAX_AGE_S,
                secure=settings.secure_cookies,
                httponly=True,
                samesite="lax",
            ).middleware,
            AuthMiddleware(),
        ],
        csrf_config=csrf_config,
        request_max_body_size=settings.max_body_bytes,
        openapi_config=None,  # a server-rendered app: no public schema of its internals
        exception_handlers={
            HTTPException: errors.http_exception_handler,
            Exception: errors.internal_error_handler,
        },
        logging_config=LoggingConfig(
            root={"level": settings.log_level, "handlers": ["queue_listener"]},
            formatters={"standard": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
            log_exceptions="debug",
        ),
        state=State(make_state(settings, engine)),
        debug=settings.debug,
    )
    # Litestar runs app middleware only for matched routes; wrapping its ASGI handler (as its own
    # OpenTelemetry plugin does) gives 404/405 pages the same locale, security headers and log line.
    app.asgi_handler = middleware.Front(
        app.asgi_handler, default_locale=settings.default_locale, hsts=settings.secure_cookies, csrf=csrf_config,
        session_cookie=session_cookie, auth_cookie=cookie_name(AUTH_COOKIE, settings.secure_cookies),
    )
    app.template_engine.engine.globals["console_nav"] = console_nav
    logging.getLogger("tsunagu").setLevel(settings.log_level)
    return app
