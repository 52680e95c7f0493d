"""A stand-in for an internal service (an admin page, a metadata endpoint) on loopback: it counts every
connection made to it, so a test can prove the server never called it.

    async with InternalListener() as internal:
        ...  # internal.url("/internal-admin"), internal.connections

With `reply`, it answers each connection with those bytes once the request head has arrived (a push
service that redirects, for instance).
"""

from __future__ import annotations

import asyncio
from contextlib import suppress

HOST = "127.0.0.1"


class InternalListener:
    def __init__(self, reply: bytes = b"") -> None:
        self.reply = reply
        self.connections = 0
        self.port = 0
        self._server: asyncio.base_events.Server | None = None

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.port}"

    def url(self, path: str = "/internal-admin", scheme: str = "http", host: str = HOST) -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    async def __aenter__(self) -> InternalListener:
        self._server = await asyncio.start_server(self._accept, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        with suppress(ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            if self.reply:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
                length = next((int(line.split(":", 1)[1]) for line in head.split("\r\n") if line.startswith("content-length:")), 0)
                await reader.readexactly(length)
                writer.write(self.reply)
                await writer.drain()
        writer.close()
