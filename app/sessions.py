"""Server-side sessions (file store by default, Redis when scaled out) that exist only when needed, whose
ids only the server issues.

Litestar stores even an empty session, which would give every visitor, crawler and static file request
a session id and a file on disk. Here an empty session is never written, and one that became empty
is deleted along with its cookie.

Litestar also adopts whatever session id the browser sends. A cookie planted by someone else (from a
sibling subdomain, say) would then name a session the planter can use too: if the victim starts a
passkey ceremony in it, the planter can finish it with their own passkey. So an id the store does not
know is never adopted (a new one is issued), and `rotate_session` gives a session a new id, dropping the
old one, when a ceremony starts and at every login.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.types import Empty, Message, ScopeSession

KNOWN_ID = "tsunagu.session_id"  # scope key: the id the browser sent, when the store knows it
NEW_ID = "tsunagu.new_session_id"  # scope key: the id issued in this request, if one is
ROTATE = "tsunagu.rotate_session"  # scope key: issue a new id for this session now
# The first campaign (app/services/campaigns/) the visitor came by: kept through registration and login, which
# keep the session's data under a new id, and recorded on what they do here.
FIRST_CAMPAIGN = "first_campaign"


def rotate_session(connection: ASGIConnection) -> None:
    """Keep the session's data under a new id (the browser gets it with this answer; the old id is gone)."""
    connection.scope[ROTATE] = True  # type: ignore[literal-required]


def note_campaign(session: MutableMapping[str, Any], campaign_id: int) -> None:
    """Remember the campaign a visitor came by, unless they came by one before: the first one counts."""
    if not isinstance(session.get(FIRST_CAMPAIGN), int):
        session[FIRST_CAMPAIGN] = campaign_id


def noted_campaign(session: MutableMapping[str, Any]) -> int | None:
    value = session.get(FIRST_CAMPAIGN)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class LazySessionBackend(ServerSideSessionBackend):
    async def load_from_connection(self, connection: ASGIConnection) -> dict[str, Any]:
        if session_id := connection.cookies.get(self.config.key):
            store = self.config.get_store_from_app(connection.scope["app"])
            data = await self.get(session_id, store=store)
            if data is not None:
                connection.scope[KNOWN_ID] = session_id  # type: ignore[literal-required]
                return self.deserialize_data(data)
        return {}

    def get_session_id(self, connection: ASGIConnection) -> str:
        scope = connection.scope
        known = scope.get(KNOWN_ID)
        if known and not scope.get(ROTATE):
            return known
        if not scope.get(NEW_ID):
            scope[NEW_ID] = self.generate_session_id()  # type: ignore[literal-required]
        return scope[NEW_ID]  # type: ignore[literal-required]

    async def store_in_message(self, scope_session: ScopeSession, message: Message, connection: ASGIConnection) -> None:
        if connection.scope.get(ROTATE) and (old := connection.scope.get(KNOWN_ID)):
            await self.delete(old, store=self.config.get_store_from_app(connection.scope["app"]))
        if scope_session is not Empty and not scope_session:
            if not connection.cookies.get(self.config.key):
                return
            scope_session = Empty
        await super().store_in_message(scope_session, message, connection)


class LazySessionConfig(ServerSideSessionConfig):
    _backend_class = LazySessionBackend
