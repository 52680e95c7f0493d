"""Hostile input on every route, for every role: no answer is ever a 5xx.

Seeded and reproducible (TSUNAGU_FUZZ_SEED=<n> repeats a run; the seed is in the failure message) and
bounded by TSUNAGU_FUZZ_SECONDS (default 10) per database, after every route has met every role once. The demo data gives real ids, so handlers
get past "not found" and meet other people's records. Each request is one of: a form with random
fields from the templates' vocabulary (missing, repeated, hostile values), a malformed multipart body, a
malformed or mistyped JSON body, or a GET with hostile query parameters.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from pathlib import Path
from urllib.parse import quote_from_bytes

from app.demo import load_demo_data
from app.services.membership import login_sessions
from app.settings import Line
from db.tables import Account, Member, Shop
from tests import factories
from tests.conftest import Client

ROOT = Path(__file__).resolve().parent.parent.parent
SECONDS = float(os.environ.get("TSUNAGU_FUZZ_SECONDS", "10"))
SEED = int(os.environ.get("TSUNAGU_FUZZ_SEED", str(random.SystemRandom().randrange(1, 10**6))))
MAX_REQUESTS = 20_000  # a bound besides the clock
ROLES = ("anonymous", "member", "shop", "editor", "staff")
INT_PARAM = re.compile(r"\{(\w+):int\}")
STR_PARAM = re.compile(r"\{(\w+):str\}")
LONE_SURROGATE = b"\xed\xa0\x80"  # what a lone UTF-16 surrogate becomes when encoded carelessly: not UTF-8

HOSTILE_TEXT: list[bytes] = [
    b"", b" ", b"0", b"-1", b"-2147483649", b"2147483648", b"9223372036854775808", b"99999999999999999999999999",
    "１２３".encode(), "１，２００".encode(), b"1,200", b"1e309", b"NaN", b"-0", b"0x10", b"\x00", b"a\x00b",
    LONE_SURROGATE, b"x" + LONE_SURROGATE + b"y", "\u202e\u2066右から左".encode(), "🎉🏔️".encode(), b"\r\n\r\n",
    b"x" * 100_000, "あ".encode() * 34_000, b"<script>alert(1)</script>", b"'; DROP TABLE account; --",
    b"../../etc/passwd", b"2026-02-30", b"2026-13-01T25:61", b"2026-04-01T10:00", b"%", b"%%%", b"true",
    b"null", b"[]", b"{}", "テスト　全角".encode(), b"\xff\xfe", b"javascript:alert(1)", b"//evil.example",
    b"https://evil.example/", b"1", b"2", b"3", b"7", b"42",
]


def vocabulary() -> list[str]:
    """Every form field name the templates use, and the query keys the handlers read."""
    names: set[str] = set()
    for template in (ROOT / "app" / "templates").rglob("*.html"):
        names.update(re.findall(r'name="([a-z_]+)"', template.read_text(encoding="utf-8")))
    return sorted(names | {"q", "page", "year", "area", "kind", "status", "month", "code", "next", "show", "open",
                           "member", "from", "to", "lang", "theme", "program", "shop", "offer", "sort"})


def routes(app) -> list[tuple[str, str, str]]:
    """(name, method, path template) of every handler but the static files."""
    found = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if handler.name is None or handler.name.startswith("static"):
                continue
            for method in sorted(set(handler.http_methods) - {"HEAD", "OPTIONS"}):
                found.append((handler.name, method, route.path))
    return found


class Fuzzer:
    def __init__(self, rng: random.Random, names: list[str], ids: list[int]) -> None:
        self.rng, self.names, self.ids = rng, names, ids

    def value(self) -> bytes:
        if self.rng.random() < 0.25:
            return str(self.rng.choice(self.ids)).encode()
        return self.rng.choice(HOSTILE_TEXT)

    def path(self, template: str) -> str:
        def number(_match) -> str:
            roll = self.rng.random()
            if roll < 0.7:
                return str(self.rng.choice(self.ids))
            return self.rng.choice(["0", "2147483647", "2147483648", "99999999999999999999"])

        path = INT_PARAM.sub(number, template)
        return STR_PARAM.sub(lambda _m: self.rng.choice(["x", "icon-192.png", "a" * 300, "%00", "..%2F..%2Fetc"]), path)

    def pairs(self) -> list[tuple[str, bytes]]:
        fields = self.rng.sample(self.names, k=min(len(self.names), self.rng.randint(0, 8)))
        pairs = [(name, self.value()) for name in fields]
        if pairs and self.rng.random() < 0.3:  # a repeated field
            pairs.append((pairs[0][0], self.value()))
        return pairs

    def query(self) -> str:
        """A query string as long as a browser or proxy would pass (a few kB), with the same hostile values."""
        query = "&".join(f"{quote_from_bytes(k.encode())}={quote_from_bytes(v[:600])}" for k, v in self.pairs())
        return query[:6000]

    def body(self, csrf: str) -> tuple[bytes, dict[str, str], str]:
        """(body, headers, kind) for an unsafe request."""
        roll = self.rng.random()
        headers = {"x-csrftoken": csrf} if self.rng.random() < 0.95 else {}
        if roll < 0.6:
            pairs = self.pairs()
            if csrf and self.rng.random() < 0.95:
                pairs.append(("_csrf_token", csrf.encode()))
            body = "&".join(f"{quote_from_bytes(k.encode())}={quote_from_bytes(v)}" for k, v in pairs).encode()
            return body, {**headers, "content-type": "application/x-www-form-urlencoded"}, "form"
        if roll < 0.75:
            boundary = "fuzzboundary"
            parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'.encode() + v + b"\r\n"
                     for k, v in self.pairs()]
            if self.rng.random() < 0.5:  # a file part with a body that is no image
                parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{self.rng.choice(self.names)}"; '
                             f'filename="x.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode() + self.value() + b"\r\n")
            body = b"".join(parts)
            if self.rng.random() < 0.5:
                body = body[: self.rng.randint(0, max(0, len(body) - 1))]  # cut short: no closing boundary
            else:
                body += f"--{boundary}--\r\n".encode()
            declared = boundary if self.rng.random() < 0.8 else "another"
            return body, {**headers, "content-type": f"multipart/form-data; boundary={declared}"}, "multipart"
        if roll < 0.9:
            document = {k: self.rng.choice([v.decode("utf-8", "replace"), 1, -1, 2**70, None, [], {}, True, 1.5])
                        for k, v in self.pairs()}
            body = json.dumps(document).encode()
            if self.rng.random() < 0.4:
                body = body[: len(body) // 2]  # malformed
            return body, {**headers, "content-type": "application/json"}, "json"
        return self.value(), {**headers, "content-type": self.rng.choice(["text/plain", "application/json", ""])}, "raw"


async def accounts_by_role() -> dict[str, list[int]]:
    rows = await Account.select(Account.id, Account.role).where(Account.status == "active")
    by_role: dict[str, list[int]] = {}
    for row in rows:
        by_role.setdefault(row["role"], []).append(row["id"])
    return by_role


async def test_no_hostile_request_on_any_route_for_any_role_gives_a_5xx(app):
    await load_demo_data()
    # LINE set up, so its routes are fuzzed too (nothing gets past the webhook's signature to call the API).
    app.state.settings = app.state.settings.with_(line=Line(channel_secret="fuzz-secret", access_token="fuzz-token",
                                                            api_base="http://127.0.0.1:9"))
    shop = await Shop.select(Shop.id).first()
    await factories.staff_account("店舗 田中", role="shop", shop=shop["id"])  # the demo has members and editors
    await factories.staff_account()
    by_role = await accounts_by_role()
    assert all(by_role.get(role) for role in ROLES[1:]), by_role
    ids = sorted({1, 2, 3, *[row["id"] for row in await Member.select(Member.id)][:20]})
    rng = random.Random(SEED)
    fuzzer = Fuzzer(rng, vocabulary(), ids)
    table = [(role, route) for route in routes(app) for role in ROLES]
    rng.shuffle(table)
    failures: list[str] = []
    sent = 0
    deadline = time.monotonic() + SECONDS
    async with Client(app=app, base_url="http://localhost:8000", raise_server_exceptions=False) as client:
        csrf = await client.ensure_csrf()
        # every route × role once whatever the clock says, then at random until the deadline
        while sent < MAX_REQUESTS and (sent < len(table) or time.monotonic() < deadline) and len(failures) < 10:
            role, (name, method, template) = table[sent] if sent < len(table) else rng.choice(table)
            sent += 1
            client.cookies.delete("tsunagu_auth")
            if role != "anonymous":
                token = await login_sessions.start(rng.choice(by_role[role]), "fuzz")
                client.cookies.set("tsunagu_auth", token)
            path = fuzzer.path(template)
            if method == "GET":
                query = fuzzer.query() if rng.random() < 0.8 else ""
                url, kind, body, headers = (f"{path}?{query}" if query else path), "query", None, {}
            else:
                body, headers, kind = fuzzer.body(csrf)
                url = path
            response = await client.request(method, url, content=body, headers=headers)
            if response.status_code >= 500:
                failures.append(f"{response.status_code} {role} {method} {url[:200]} ({name}, {kind} body "
                                f"{(body or b'')[:200]!r})")
    assert not failures, f"seed {SEED} ({sent} requests):\n" + "\n".join(failures)
    assert sent >= min(len(table), MAX_REQUESTS), f"only {sent} requests"
