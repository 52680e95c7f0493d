"""Public pages as the static export takes them (the portal outside the app: app/services/portal/static_export.py).

Each page is rendered in this process through the whole app, by the same route and template a visitor with no
login gets, so the export never drifts from the site. The request carries a mark in its ASGI scope: templates
read it as `static_export()` and leave out what needs the app behind them (scripts, forms, the CSRF token, the
service worker), and the front layer neither serves nor keeps a cached copy for it. Nothing from outside can set
the mark: the server builds the scope, a request only brings headers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote, urlsplit

STATIC_EXPORT = "tsunagu.static_export"


def is_static_export(scope: MutableMapping[str, Any]) -> bool:
    return bool(scope.get(STATIC_EXPORT))


def page_fetcher(app: Any) -> Callable[[str, str], Awaitable[tuple[int, str, bytes]]]:
    """fetch(address, locale) -> (status, content type, body) of one GET to `app`, marked as the static export and
    in `locale`, as a browser asking for that language would be answered. An ASGI call of our own rather than an
    HTTP client's: a page is one call, and a client would log every one of a build's hundreds of requests again."""
    base = urlsplit(app.state.settings.base_url)

    async def fetch(address: str, locale: str) -> tuple[int, str, bytes]:
        path, _sep, query = address.partition("?")
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": base.scheme or "http", "path": unquote(path), "raw_path": path.encode(),
            "query_string": query.encode(), "root_path": "", "client": ("127.0.0.1", 0),
            "server": (base.hostname or "localhost", base.port or (443 if base.scheme == "https" else 80)),
            "headers": [(b"host", (base.netloc or "localhost").encode()), (b"accept-language", locale.encode())],
            STATIC_EXPORT: True,
        }
        answer: dict[str, Any] = {"status": 500, "type": b"", "body": []}
        asked, answered = asyncio.Event(), asyncio.Event()

        async def receive() -> dict[str, Any]:
            if not asked.is_set():
                asked.set()
                return {"type": "http.request", "body": b"", "more_body": False}
            await answered.wait()  # a streamed file listens for the client leaving: it leaves once all has come
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                answer["type"] = dict(message.get("headers", ())).get(b"content-type", b"")
            elif message["type"] == "http.response.body":
                answer["body"].append(message.get("body", b""))
                if not message.get("more_body", False):
                    answered.set()

        await app(scope, receive, send)
        return answer["status"], answer["type"].decode("latin-1"), b"".join(answer["body"])

    return fetch
