"""Server-side sessions (file store by default, Redis when scaled out) that exist only when needed.

Litestar stores even an empty session, which would give every visitor, crawler and static file request
a session id and a file on disk. Here an empty session is never written, and one that became empty
is deleted along with its cookie.
"""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.types import Empty, Message, ScopeSession


class LazySessionBackend(ServerSideSessionBackend):
    async def store_in_message(self, scope_session: ScopeSession, message: Message, connection: ASGIConnection) -> None:
        if scope_session is not Empty and not scope_session:
            if not connection.cookies.get(self.config.key):
                return
            scope_session = Empty
        await super().store_in_message(scope_session, message, connection)


class LazySessionConfig(ServerSideSessionConfig):
    _backend_class = LazySessionBackend
