"""Public pages kept ready in each process for visitors who are not logged in.

When a broadcast reaches fifty thousand members, most of the first taps land on the same few pages (the
portal, programs, articles, passes, shops), rendered the same for everyone without a login. A handler
that answers such a page says so with `opt=PUBLIC_PAGE`; its answer to a visitor with neither a login nor
a session is kept for `ttl_s` seconds and served again by the front layer (app/middleware.py) without
entering the framework, the database or the templates.

What differs between visitors is handled on the way out:
- the CSRF token: the page is kept cut at each copy of the token it was rendered with, and every answer
  puts in the visitor's own token (issuing one, with its cookie, to a first visit), so forms keep working
  without JavaScript;
- the language: part of the key, with the path, the query and the HTMX headers that choose a fragment.

A member's own pages (card, wallet, account, applications, inbox, surveys, premium, and the home page the
installed app opens at) are kept too, with `opt=MEMBER_PAGE`, in a cache of their own: keyed by the login's
token hash besides, so only that login is ever given them, and kept with the page versions they were rendered
under (db/page_versions.py). The front layer serves one again only when the
login's lookup, the one statement any logged-in page starts with, reads the same two versions: nothing the page
shows has changed since, whoever changed it and in whichever process. `ttl_s` then bounds only what time alone
changes. A member with anything in their session (a message to show once) gets the page afresh.

Freshness of public pages: a logged-in person (every editor and staff member) never gets a kept public page, so
they see their change at once. Visitors see it when the copy expires (`PAGE_CACHE_SECONDS`, 5 s by default), and at once
from the process that handled the change: any successful change by a logged-in person clears that
process's copies, unless its handler says with `opt=LEAVES_PUBLIC_PAGES` that no public page shows what it
changes. Several processes each keep their own copies, bounded in count and bytes; none of
them serves a copy older than `ttl_s`.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from litestar.types import Scope

from app import compression

# Route handler opts: the answer may be kept for an anonymous visitor, or for the logged-in member it was rendered for.
PUBLIC_PAGE = {"public_page": True}
MEMBER_PAGE = {"member_page": True}
# The opt of a change no public page shows: the shop counter's uses and the members' check-ins at a venue, which on a
# festival day come every few seconds and would otherwise empty the public copies each time, just when the most
# visitors open the portal. (An application is not one: the programs' pages show the seats left.)
LEAVES_PUBLIC_PAGES = {"leaves_public_pages": True}
(LEAVES_KEY,) = LEAVES_PUBLIC_PAGES


def counted_page(kind: str) -> dict:
    """The opt of a public page whose views are counted as `kind` (app/services/campaigns/page_views.py), kept
    or not: the front layer counts both."""
    return {**PUBLIC_PAGE, "page_view": kind}


MAX_ENTRIES = 512
MAX_BYTES = 32 * 1024 * 1024

Key = tuple  # (path, query, locale, HX-Request, HX-Boosted, HX-History-Restore-Request[, login token hash])


@dataclass(frozen=True)
class KeptPage:
    stored_at: float
    status: int
    headers: tuple[tuple[bytes, bytes], ...]  # as answered, without content-length and set-cookie
    pieces: tuple[bytes, ...]  # the body between the copies of the CSRF token
    deflated: tuple[bytes, ...]  # the same pieces, deflated once (app/compression.py)
    page_view: str = ""  # the kind its views are counted as, if they are
    versions: tuple[int, int] | None = None  # a member page's: the page versions it was rendered under

    @property
    def size(self) -> int:
        return sum(map(len, self.pieces)) + sum(map(len, self.deflated))

    def body(self, token: bytes) -> bytes:
        return token.join(self.pieces)

    def gzipped(self, token: bytes) -> bytes:
        return compression.gzip_around(self.pieces, self.deflated, token)


class PageCache:
    def __init__(self, ttl_s: float, keeps: dict = PUBLIC_PAGE, max_entries: int = MAX_ENTRIES,
                 max_bytes: int = MAX_BYTES) -> None:
        self.ttl_s = ttl_s
        (self.opt,) = keeps  # the handler opt of the pages kept here
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._pages: OrderedDict[Key, KeptPage] = OrderedDict()
        self._bytes = 0
        self.served = 0  # how many answers came from here (the tests count them)

    @property
    def enabled(self) -> bool:
        return self.ttl_s > 0

    def get(self, key: Key, versions: tuple[int, int] | None = None) -> KeptPage | None:
        page = self._pages.get(key)
        if page is None:
            return None
        if time.monotonic() - page.stored_at >= self.ttl_s or page.versions != versions:
            self._drop(key)
            return None
        self._pages.move_to_end(key)
        self.served += 1
        return page

    def keep(self, key: Key, status: int, headers: tuple[tuple[bytes, bytes], ...], body: bytes, token: bytes,
             page_view: str = "", versions: tuple[int, int] | None = None) -> None:
        pieces = compression.cut(body, token)
        page = KeptPage(time.monotonic(), status, headers, pieces, compression.deflate_pieces(pieces), page_view, versions)
        if page.size > self.max_bytes // 8:  # one huge page must not push out every other
            return
        self._drop(key)
        self._pages[key] = page
        self._bytes += page.size
        while len(self._pages) > self.max_entries or self._bytes > self.max_bytes:
            self._drop(next(iter(self._pages)))

    def peek(self, key: Key) -> bool:
        """Whether a copy is kept under `key`, fresh or not (what is worth a lookup of the versions)."""
        return key in self._pages

    def clear(self) -> None:
        self._pages.clear()
        self._bytes = 0

    def _drop(self, key: Key) -> None:
        page = self._pages.pop(key, None)
        if page is not None:
            self._bytes -= page.size

    def __len__(self) -> int:
        return len(self._pages)


def leaves_public_pages(scope: Scope) -> bool:
    """The route that answered says that what it changed shows on no public page (Litestar put it in the scope)."""
    handler = scope.get("route_handler")
    return handler is not None and handler.opt.get(LEAVES_KEY, False)

