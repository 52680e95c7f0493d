"""The desk's mailbox over IMAP (IMAPClient, in a worker thread): opened read-only, so nothing the desk does
marks, moves or deletes a mail there; mails are fetched with BODY.PEEK, a few at a time and each up to a size.

IMAPClient sits on the standard library's imaplib, which blocks: each call runs in a thread so the event loop
serves requests meanwhile. Every call has a timeout, so a server that stops answering ends the step, not the
round.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from dataclasses import dataclass

from imapclient import IMAPClient

from app.settings import Imap

TIMEOUT_S = 30
MAX_MAIL_BYTES = 20 * 1024 * 1024  # larger mails are read by their header only; the mailbox keeps them whole


class MailboxError(Exception):
    """The mailbox could not be read (the server, the login, the folder, or an unsafe setting)."""


@dataclass(frozen=True)
class Fetched:
    uid: int
    raw: bytes
    whole: bool  # False: over MAX_MAIL_BYTES, only the header was fetched


def mailbox_name(imap: Imap) -> str:
    """The key a mail's place is remembered by: another server, account or folder numbers its mails anew."""
    return f"{imap.user}@{imap.host}:{imap.port}/{imap.folder}"[:300]


def _only_loopback(host: str, port: int) -> None:
    """Without TLS the password travels in the clear: allowed only to this machine (a test server, a local
    relay)."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)}
    except OSError as exc:
        raise MailboxError(f"cannot resolve {host}: {exc}") from None
    if not addresses or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        raise MailboxError("IMAP_TLS=none is only allowed to a loopback address")


class Mailbox:
    """One session with the folder, opened read-only. Use as `async with Mailbox(settings) as box`."""

    def __init__(self, imap: Imap) -> None:
        self.imap = imap
        self.client: IMAPClient | None = None
        self.uidvalidity = 0

    def _open(self) -> None:
        imap = self.imap
        if imap.tls == "none":
            _only_loopback(imap.host, imap.port)
        context = ssl.create_default_context()
        client = IMAPClient(imap.host, port=imap.port, ssl=imap.tls == "implicit",
                            ssl_context=context if imap.tls == "implicit" else None, timeout=TIMEOUT_S)
        try:
            if imap.tls == "starttls":
                client.starttls(context)
            client.login(imap.user, imap.password)
            selected = client.select_folder(imap.folder, readonly=True)
        except BaseException:
            client.shutdown()
            raise
        self.client = client
        self.uidvalidity = int(selected[b"UIDVALIDITY"])

    async def __aenter__(self) -> "Mailbox":
        try:
            await asyncio.to_thread(self._open)
        except MailboxError:
            raise
        except Exception as exc:
            raise MailboxError(f"{type(exc).__name__}: {exc}") from None
        return self

    async def __aexit__(self, *exc) -> None:
        if self.client is not None:
            await asyncio.to_thread(self._close)

    def _close(self) -> None:
        try:
            self.client.logout()
        except Exception:  # the session ends either way
            self.client.shutdown()

    async def uids(self) -> list[int]:
        return sorted(await asyncio.to_thread(self.client.search, ["ALL"]))

    def _fetch(self, uid: int) -> Fetched | None:
        sizes = self.client.fetch([uid], ["RFC822.SIZE"])
        if uid not in sizes:  # gone meanwhile (another program moved it)
            return None
        whole = sizes[uid].get(b"RFC822.SIZE", 0) <= MAX_MAIL_BYTES
        part = b"BODY[]" if whole else b"BODY[HEADER]"
        fetched = self.client.fetch([uid], ["BODY.PEEK[]" if whole else "BODY.PEEK[HEADER]"])
        raw = fetched.get(uid, {}).get(part)
        return Fetched(uid, bytes(raw), whole) if raw is not None else None

    async def fetch(self, uid: int) -> Fetched | None:
        return await asyncio.to_thread(self._fetch, uid)
