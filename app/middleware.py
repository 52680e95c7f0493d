"""The one ASGI layer around the app, run for every request (404s included).

It chooses the request's language, answers HEAD as GET, serves kept public pages (app/page_cache.py),
adds the security headers, compresses pages around their CSRF token (app/compression.py), counts the views of
public pages (app/services/campaigns/page_views.py) and writes one readable log line. One layer rather than five: each layer costs a call and a wrapped `send` per message,
which on a kept page would be most of the work.
"""

from __future__ import annotations

import logging
import time
from functools import lru_cache
from hmac import compare_digest

from litestar.config.csrf import CSRFConfig
from litestar.datastructures.cookie import Cookie
from litestar.middleware.csrf import CSRF_SECRET_LENGTH, generate_csrf_hash, generate_csrf_token
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from app import compression, i18n
from app.page_cache import KeptPage, Key, PageCache, leaves_public_pages
from app.services.campaigns import page_views
from app.services.campaigns.campaigns import MATCHING_SITES, matching_site_of
from app.services.membership import login_sessions
from app.static_pages import STATIC_EXPORT

access_log = logging.getLogger("tsunagu.access")

# No inline scripts or styles anywhere: theme colours come from /theme.css, behaviour from /static/js.
DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "manifest-src 'self'",
    "worker-src 'self'",
)


def policy_with_form_action(*origins: str) -> str:
    """The Content-Security-Policy, with forms also allowed to lead to `origins` (browsers check where a form's
    answer redirects to as well)."""
    return "; ".join(" ".join([d, *origins]) if d == "form-action 'self'" else d for d in DIRECTIVES)


CONTENT_SECURITY_POLICY = policy_with_form_action()
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(self), geolocation=(), microphone=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000")
# Scripts, styles, images and the manifest are never documents or workers, so the policies above would do
# nothing there but add half a kilobyte to each file a first visit downloads.
FILE_PREFIXES = ("/static/", "/icons/", "/theme.css", "/manifest.webmanifest")
FILE_HEADERS = ((b"x-content-type-options", b"nosniff"),)
# What is worth compressing here; static files are compressed by their own router (app/main.py).
COMPRESSIBLE = (b"text/html", b"application/atom+xml", b"application/manifest+json", b"text/css",
                b"text/javascript", b"text/calendar")
SAFE_METHODS = ("GET", "HEAD")
# scope key: the matching site (app/services/campaigns/) whose page the visitor followed a link from
REFERRED_BY = "tsunagu.referred_by"
MATCHING_HOSTS = tuple(host.encode() for host in MATCHING_SITES)
negotiate = lru_cache(maxsize=256)(i18n.negotiate)  # browsers send a handful of distinct Accept-Language values


def cookies_of(raw: str) -> dict[str, str]:
    jar = {}
    for part in raw.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name not in jar:
            jar[name] = value.strip('"')
    return jar


def noted_referrer(scope: Scope, referer: bytes) -> bool:
    """Whether the Referer names a matching site, noted in the scope for the app if it does. Most Referers name
    none, which one search per site tells."""
    site = matching_site_of(referer.decode("latin-1")) if referer and any(h in referer for h in MATCHING_HOSTS) else None
    if site:
        scope[REFERRED_BY] = site  # type: ignore[typeddict-unknown-key]
    return site is not None


def count_view(scope: Scope, answer: _Answer, fragment: bool, user_agent: bytes) -> None:
    """A view: a whole page (a boosted link is one, a fragment is not) answered in full, to a browser."""
    if answer.status == 200 and not answer.head and not fragment and not page_views.is_crawler(user_agent.decode("latin-1")):
        state = scope["app"].state
        visitor = f"{state.rate_limits.client_address(scope)}\n{user_agent.decode('latin-1')}"
        state.page_views.view(answer.page_view, visitor, scope["path"], time.time())


def with_header(headers: list[tuple[bytes, bytes]], name: bytes, value: bytes) -> None:
    """Set `name` (lower case, as Litestar writes headers) to `value`, replacing any value it had."""
    headers[:] = [(key, old) for key, old in headers if key != name]
    headers.append((name, value))


def vary_on_encoding(headers: list[tuple[bytes, bytes]]) -> None:
    for index, (name, value) in enumerate(headers):
        if name == b"vary":
            if b"accept-encoding" not in value.lower():
                headers[index] = (name, value + b", Accept-Encoding")
            return
    headers.append((b"vary", b"Accept-Encoding"))


class Front:
    def __init__(self, app: ASGIApp, *, default_locale: str, hsts: bool, csrf: CSRFConfig,
                 session_cookie: str, auth_cookie: str) -> None:
        self.app = app
        self.default_locale = default_locale
        self.page_headers = SECURITY_HEADERS + ((HSTS,) if hsts else ())
        self.csrf = csrf
        # Either cookie means the page may differ for this visitor (a login, a pending notice).
        self.personal_cookies = (session_cookie, auth_cookie)
        self.session_cookie, self.auth_cookie = session_cookie, auth_cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        cookie = accept_language = accept_encoding = b""
        hx_request = hx_boosted = hx_restore = user_agent = referer = b""
        for name, value in scope["headers"]:
            if name == b"cookie":
                cookie = cookie + b"; " + value if cookie else value
            elif name == b"accept-language":
                accept_language = value
            elif name == b"accept-encoding":
                accept_encoding = value
            elif name == b"hx-request":
                hx_request = value
            elif name == b"hx-boosted":
                hx_boosted = value
            elif name == b"hx-history-restore-request":
                hx_restore = value
            elif name == b"user-agent":
                user_agent = value
            elif name == b"referer":
                referer = value
        jar = cookies_of(cookie.decode("latin-1")) if cookie else {}
        locale = negotiate(jar.get(i18n.LOCALE_COOKIE), accept_language.decode("latin-1") or None, self.default_locale)
        locale_token = i18n.current_locale.set(locale)
        audience_token = i18n.current_audience.set(i18n.audience_of(scope["path"]))
        method = scope["method"]
        head = method == "HEAD"
        gzip = bool(accept_encoding) and compression.accepts_gzip(accept_encoding.decode("latin-1"))
        login = jar.get(self.auth_cookie)
        cache, key = self.kept_under(scope, jar, login, referer, (locale, hx_request, hx_boosted, hx_restore))
        kept = await self.kept_page(scope, cache, key, login)
        inner = {**scope, "method": "GET"} if head else scope  # what the app sees; the log says what was asked
        answer = _Answer(self, send, inner, head=head, gzip=gzip, cache=cache, key=key,
                         is_file=scope["path"].startswith(FILE_PREFIXES))
        try:
            if kept is not None:
                await answer.send_kept(kept, jar.get(self.csrf.cookie_name))
            else:
                await self.app(inner, receive, answer.send)
                if (method not in SAFE_METHODS and answer.status < 400 and jar.get(self.auth_cookie)
                        and not leaves_public_pages(inner)):
                    cache.clear()  # someone logged in changed something: this process's copies may show the old
            if answer.page_view:
                count_view(scope, answer, hx_request and not hx_boosted, user_agent)
        finally:
            i18n.current_audience.reset(audience_token)
            i18n.current_locale.reset(locale_token)
            elapsed_ms = (time.perf_counter() - started) * 1000
            # The query string is left out: links sent by mail may carry one-time tokens.
            access_log.info("%s %s %d %.1fms", method, scope["path"], answer.status, elapsed_ms)

    def kept_under(self, scope: Scope, jar: dict[str, str], login: str | None, referer: bytes,
                   variant: tuple) -> tuple[PageCache, Key | None]:
        """Where this request's page may be kept, and under which key (None: nowhere). `variant` is what else
        chooses the page: the locale and the HTMX headers that ask for a fragment."""
        state = scope["app"].state
        # A page rendered for the static export has other links and no scripts: never kept, never served kept.
        # A visitor a matching site sent gets a session noting it (routes/campaigns), which a kept page cannot give.
        if scope["method"] not in SAFE_METHODS or STATIC_EXPORT in scope or noted_referrer(scope, referer):
            return state.page_cache, None
        page = (scope["path"], scope.get("query_string", b""), *variant)
        if not any(jar.get(name) for name in self.personal_cookies):
            return state.page_cache, (page if state.page_cache.enabled else None)
        if login and not jar.get(self.session_cookie) and state.member_page_cache.enabled:
            return state.member_page_cache, (*page, login_sessions.token_hash(login))
        return state.page_cache, None

    @staticmethod
    async def kept_page(scope: Scope, cache: PageCache, key: Key | None, login: str | None) -> KeptPage | None:
        """The page kept under `key`, if still good: a member's only under the page versions their login's lookup
        reads now. That lookup is the one the app would make, so it is left in the scope for the app (app/auth.py)."""
        if key is None:
            return None
        if not login:
            return cache.get(key)
        if not cache.peek(key):
            return None
        account = await login_sessions.resolve(login)
        scope.setdefault("state", {})["account"] = account
        return cache.get(key, account.page_versions) if account is not None else None

    def visitor_token(self, cookie: str | None) -> tuple[str, bytes | None]:
        """The visitor's CSRF token when their cookie holds one we signed; otherwise a new one and its cookie,
        as Litestar's CSRF middleware would have issued."""
        if cookie and len(cookie) > CSRF_SECRET_LENGTH and compare_digest(
            cookie[CSRF_SECRET_LENGTH:], generate_csrf_hash(cookie[:CSRF_SECRET_LENGTH], self.csrf.secret)
        ):
            return cookie, None
        token = generate_csrf_token(self.csrf.secret)
        config = self.csrf
        header = Cookie(key=config.cookie_name, value=token, path=config.cookie_path, secure=config.cookie_secure,
                        httponly=config.cookie_httponly, samesite=config.cookie_samesite, domain=config.cookie_domain)
        return token, header.to_header(header="").encode("latin-1")


class _Answer:
    """The `send` of one request: headers added, HTML held until its body is known, then kept and compressed."""

    __slots__ = ("front", "downstream", "scope", "head", "gzip", "cache", "key", "is_file", "status", "held", "page_view")

    def __init__(self, front: Front, downstream: Send, scope: Scope, *, head: bool, gzip: bool, cache: PageCache,
                 key: Key | None, is_file: bool) -> None:
        self.front, self.downstream, self.scope = front, downstream, scope
        self.head, self.gzip, self.cache, self.key, self.is_file = head, gzip, cache, key, is_file
        self.status = 500
        self.held: tuple[Message, list[tuple[bytes, bytes]], bool] | None = None
        self.page_view = ""  # the kind of public page this is, when its views are counted

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message["status"]
            handler = self.scope.get("route_handler")
            if handler is not None:
                self.page_view = handler.opt.get("page_view", "")
            headers = list(message.get("headers", ()))
            present = {name for name, _value in headers}
            extra = FILE_HEADERS if self.is_file else self.front.page_headers
            headers += [header for header in extra if header[0] not in present]
            content_type = next((value for name, value in headers if name == b"content-type"), b"")
            if b"content-encoding" not in present and content_type.startswith(COMPRESSIBLE):
                # Held until the body comes: its length decides the compression, and a page may be kept.
                self.held = (message, headers, content_type.startswith(b"text/html"))
                return
            await self.downstream({**message, "headers": headers})
            return
        if kind != "http.response.body":
            await self.downstream(message)
            return
        if self.held is None:
            if self.head:
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await self.downstream(message)
            return
        start, headers, html = self.held
        self.held = None
        if message.get("more_body", False):  # a streamed answer goes out as it comes
            await self.downstream({**start, "headers": headers})
            if not self.head:  # the rest of a HEAD answer's body is dropped above
                await self.downstream(message)
            return
        body = message.get("body", b"")
        token = ScopeState.from_scope(self.scope).csrf_token if html else None
        secret = token.encode("latin-1") if isinstance(token, str) else b""
        vary_on_encoding(headers)
        if html and self.key is not None and self._may_keep(headers):
            kept = [(name, value) for name, value in headers if name not in (b"content-length", b"set-cookie")]
            # A member's page is kept under the page versions read with their login; a visitor's has none to read.
            account = self.scope.get("state", {}).get("account")
            self.cache.keep(self.key, self.status, tuple(kept), body, secret, self.page_view,
                            account.page_versions if account is not None else None)
        if self.gzip and len(body) >= compression.MIN_BYTES:
            body = compression.gzip_page(body, secret)
            headers.append((b"content-encoding", b"gzip"))
        with_header(headers, b"content-length", str(len(body)).encode())
        await self.downstream({**start, "headers": headers})
        await self.downstream({"type": "http.response.body", "body": b"" if self.head else body, "more_body": False})

    def _may_keep(self, headers: list[tuple[bytes, bytes]]) -> bool:
        """Only a page opted in to this cache, answered in full, that gave this visitor nothing of their own but a
        CSRF cookie."""
        handler = self.scope.get("route_handler")
        if self.status != 200 or handler is None or not handler.opt.get(self.cache.opt):
            return False
        csrf_cookie = self.front.csrf.cookie_name.encode() + b"="
        return all(value.startswith(csrf_cookie) for name, value in headers if name == b"set-cookie")

    async def send_kept(self, kept, cookie: str | None) -> None:
        token, set_cookie = self.front.visitor_token(cookie)
        secret = token.encode("latin-1")
        body = kept.gzipped(secret) if self.gzip and sum(map(len, kept.pieces)) >= compression.MIN_BYTES else None
        headers = list(kept.headers)
        if body is not None:
            headers.append((b"content-encoding", b"gzip"))
        else:
            body = kept.body(secret)
        headers.append((b"content-length", str(len(body)).encode()))
        if set_cookie is not None:
            headers.append((b"set-cookie", set_cookie))
        self.status = kept.status
        self.page_view = kept.page_view
        await self.downstream({"type": "http.response.start", "status": kept.status, "headers": headers})
        await self.downstream({"type": "http.response.body", "body": b"" if self.head else body, "more_body": False})


class VersionedFiles:
    """Static files: a URL with `?v=<content hash>` (templating.static_url) names one version of a file
    forever, so browsers keep it a year without asking again; any other URL is checked on each use."""

    IMMUTABLE = b"public, max-age=31536000, immutable"

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cache_control = self.IMMUTABLE if scope.get("query_string", b"").startswith(b"v=") else b"no-cache"

        async def send_with_cache_control(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                with_header(headers, b"cache-control", cache_control)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cache_control)
