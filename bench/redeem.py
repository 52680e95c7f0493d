"""Redemptions/s and p99 on PostgreSQL: POST /shop/redeem against three bare Litestar baselines.

All are served in this run by the same production command line
(`uvicorn ... --host 127.0.0.1 --workers 1 --log-level warning --no-access-log`). The app runs on a fresh
PostgreSQL database `tsunagu_bench_<pid>` (created here, migrated with `piccolo migrations forwards all`,
dropped at the end, also on error), filled directly with a shop, an unlimited and a three-a-day offer, a
pass, --members members each with the pass in their wallet, and one shop staff account with a login
session. Every request is a real scan at the counter: the member's signed wallet QR token, an offer, a
nonce never sent before and the CSRF token, posted as the scanner's HTMX form does; only an answer of 200
with `data-testid="redeem-ok"` counts. The baselines parse the same form body and answer a small JSON object:
`bare` (`bench.redeem:bare_app`) nothing more; `sql` (`bench.redeem:sql_app`) after one INSERT, the issue's
floor; `sqllogin` (the same server) after looking the scanning login up and then that INSERT. A closed-loop
keep-alive client keeps --concurrency requests in flight; the targets alternate (bare, sql, sqllogin, app, ...)
for --rounds rounds and the median round is reported.

    .venv/bin/python bench/redeem.py [--seconds 5] [--rounds 3] [--concurrency 16] [--members 10000] [--json]

With --in-process N there are no servers and no load client: the app and the two sql baselines are called as ASGI
apps in this process, N scans per round each, alternating, and the figure is this process's CPU time per scan
(asyncpg's work included, PostgreSQL's not). It moves far less on a shared machine than requests/s do.

    .venv/bin/python bench/redeem.py --in-process 1000 [--rounds 5] [--members 10000] [--profile-in-process]

--without takes layers off the redemption route in that process only, to see what each costs (never a way the
product runs): template (a plain answer of the same size instead of the rendered one), csrf, session, rate-limit,
hooks (the app's before_request).

    .venv/bin/python bench/redeem.py --in-process 1000 --without template,csrf,session,rate-limit,hooks
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import os
import re
import secrets
import signal
import statistics
import sys
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from litestar import Litestar, MediaType, get, post  # noqa: E402
from litestar.datastructures import State  # noqa: E402
from litestar.enums import RequestEncodingType  # noqa: E402
from litestar.params import Body, Parameter  # noqa: E402

from bench._load import (  # noqa: E402
    FIGURE_COLUMNS,
    LOAD_RANGES,
    ROOT,
    LoadResult,
    RequestSpec,
    ServerProcess,
    Target,
    add_load_arguments,
    add_rate_argument,
    alternate,
    app_environment,
    call_asgi,
    fetch_once,
    free_port,
    host_figures,
    load_arguments_in_range,
    log,
    median,
    paced_after_rounds,
    prepare_database,
    print_comparison,
    print_paced,
    rate_argument_ok,
    ratios,
    report_and_status,
    run_in_temp_dir,
    server_description,
    summarize,
    total_errors,
    uvicorn_command,
)

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DAILY_LIMIT = 3
BATCH = 500
CSRF_META = re.compile(rb'<meta name="csrf-token" content="([^"]+)"')
OK_MARK = b'data-testid="redeem-ok"'


# ---------------------------------------------------------------------------------------------------------
# The baseline, served as `uvicorn bench.redeem:bare_app`: one POST that reads the same form, answers JSON.


@post("/redeem", status_code=200)
async def bare_redeem(
    data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> dict[str, object]:
    return {"ok": True, "offer": data.get("offer", ""), "nonce": data.get("nonce", "")}


@get("/healthz", media_type=MediaType.TEXT)
async def bare_healthz() -> str:  # only for the readiness check, never measured
    return "ok"


bare_app = Litestar(route_handlers=[bare_redeem, bare_healthz], openapi_config=None)


# ---------------------------------------------------------------------------------------------------------
# The database baseline, served as `uvicorn bench.redeem:sql_app`: the same form parsed, then one
# `INSERT … ON CONFLICT DO NOTHING RETURNING` into `bench_redemption`, a copy of the redemption table with
# all its indexes (`CREATE TABLE … (LIKE redemption INCLUDING ALL)`: both unique indexes among them), on
# the same PostgreSQL, through an asyncpg pool of its own of the app's size (2–20 connections) with asyncpg's
# defaults. What the app does beyond this one round trip is the price of its rules, its session, CSRF,
# rate limit and HTML.

SQL_TABLE = "bench_redemption"
SQL_INSERT = (
    f"INSERT INTO {SQL_TABLE} (wallet_pass, offer, shop, limit_key, slot, scanned_by, client_nonce, "
    "home_prefecture, redeemed_at) VALUES ($1, $2, 1, $3, 1, $5, $4, '13', now()) ON CONFLICT DO NOTHING RETURNING id"
)
# `POST /redeem/login` (the fourth target, `sqllogin`): the login looked up first, by the SHA-256 of the cookie's
# token as the app keeps it, then the same INSERT by that account. Every redemption must know who scans; this is
# the floor of an authenticated one.
SQL_LOGIN = ("SELECT a.id FROM login_session AS s JOIN account AS a ON a.id = s.account "
             "WHERE s.token_hash = $1 AND s.expires_at > now()")


@asynccontextmanager
async def _sql_pool(app: Litestar):
    import asyncpg

    app.state.pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=2, max_size=20)
    try:
        yield
    finally:
        await app.state.pool.close()


async def _insert(pool, data: dict[str, str], scanned_by: int) -> dict[str, object]:
    nonce, code = data.get("nonce", ""), data.get("code", "")
    try:
        offer = int(data.get("offer", ""))
    except ValueError:
        offer = 0
    # The wallet pass: a number taken from the code, so rows vary as the app's do (no signature checked).
    row_id = await pool.fetchval(SQL_INSERT, len(code) + sum(code.encode()[-8:]), offer, f"n:{nonce}", nonce, scanned_by)
    return {"ok": row_id is not None, "id": row_id, "offer": offer, "nonce": nonce}


@post("/redeem", status_code=200)
async def sql_redeem(
    data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)], state: State,
) -> dict[str, object]:
    return await _insert(state.pool, data, 1)


@post("/redeem/login", status_code=200)
async def sql_login_redeem(
    data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)], state: State,
    token: Annotated[str, Parameter(cookie="tsunagu_auth")] = "",
) -> dict[str, object]:
    account = await state.pool.fetchval(SQL_LOGIN, hashlib.sha256(token.encode()).hexdigest())
    return {"ok": False} if account is None else await _insert(state.pool, data, account)


sql_app = Litestar(route_handlers=[sql_redeem, sql_login_redeem, bare_healthz], openapi_config=None, lifespan=[_sql_pool])


# ---------------------------------------------------------------------------------------------------------
# The database: created, filled and dropped here


def database_url(admin_url: str, name: str) -> str:
    return urlsplit(admin_url)._replace(path=f"/{name}").geturl()


async def admin_execute(admin_url: str, *statements: str) -> list:
    import asyncpg

    connection = await asyncio.wait_for(asyncpg.connect(admin_url), 10)
    try:
        return [await asyncio.wait_for(connection.fetch(sql), 60) for sql in statements]
    finally:
        await connection.close()


@dataclass
class Prepared:
    shop_id: int
    offers: dict[str, int]  # "unlimited", "daily"
    tokens: list[str]  # one signed wallet QR token per member
    auth_token: str  # the shop staff's login session (cookie tsunagu_auth)
    postgres: str


def short_code(n: int) -> str:
    from app.services.wallet.wallet import SHORT_CODE_ALPHABET

    return "".join(SHORT_CODE_ALPHABET[(n >> (5 * i)) & 31] for i in range(8))


async def fill_database(url: str, members: int, signing_key: str) -> Prepared:
    """Rows written directly (no HTTP), then the staff's session made with the app's own service."""
    from app.services.membership import login_sessions
    from app.services.membership.passkeys import new_user_handle
    from app.services.shared import clock
    from app.services.shared.signed_tokens import TokenSigner
    from db.engine import bind, make_engine
    from db.tables import Account, Member, Offer, Pass, PassOffer, Shop, WalletPass

    engine = make_engine(url)
    bind(engine)
    await engine.start_connection_pool(min_size=1, max_size=4)
    try:
        now = clock.now()
        expires_at = now + timedelta(days=30)
        shop = (await Shop.insert(Shop(name="海鮮食堂 ほっき屋", category="restaurant")).returning(Shop.id))[0]["id"]
        unlimited, daily = [
            row["id"] for row in await Offer.insert(
                Offer(shop=shop, title="お会計5%引き", limit_kind="unlimited", position=0),
                Offer(shop=shop, title="ソフトドリンク1杯", limit_kind="per_day", limit_count=DAILY_LIMIT, position=1),
            ).returning(Offer.id)
        ]
        pass_id = (await Pass.insert(Pass(name="苫小牧エントリーパス", validity_days=30)).returning(Pass.id))[0]["id"]
        await PassOffer.insert(PassOffer(entry_pass=pass_id, offer=unlimited), PassOffer(entry_pass=pass_id, offer=daily))
        staff = (await Account.insert(
            Account(role="shop", display_name="店員 田中", webauthn_user_id=new_user_handle(), shop=shop)
        ).returning(Account.id))[0]["id"]
        prefectures = ["13", "14", "11", "12", "27", "23", "40", "01"]
        wallet_ids: list[int] = []
        for start in range(0, members, BATCH):
            numbers = range(start, min(members, start + BATCH))
            accounts = await Account.insert(*[
                Account(role="member", display_name=f"旅人{n}", webauthn_user_id=secrets.token_urlsafe(24),
                        created_at=now) for n in numbers
            ]).returning(Account.id)
            member_rows = await Member.insert(*[
                Member(account=a["id"], member_no=f"BENCH-{n:07d}", home_prefecture=prefectures[n % len(prefectures)],
                       home_municipality="", consent_version="bench", consent_at=now, created_at=now)
                for n, a in zip(numbers, accounts, strict=True)
            ]).returning(Member.id)
            wallet_rows = await WalletPass.insert(*[
                WalletPass(member=m["id"], entry_pass=pass_id, short_code=short_code(n), activated_at=now,
                           expires_at=expires_at)
                for n, m in zip(numbers, member_rows, strict=True)
            ]).returning(WalletPass.id)
            wallet_ids += [w["id"] for w in wallet_rows]
        auth_token = await login_sessions.start(staff, "bench/redeem.py")
        postgres = (await Shop.raw("select version() as v"))[0]["v"].split(" on ")[0]
    finally:
        await engine.close_connection_pool()
    signer = TokenSigner(signing_key)
    tokens = [signer.sign("wallet", wallet_id, expires_at) for wallet_id in wallet_ids]
    return Prepared(shop, {"unlimited": unlimited, "daily": daily}, tokens, auth_token, postgres)


# ---------------------------------------------------------------------------------------------------------
# The benchmark


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_load_arguments(parser)
    parser.add_argument("--members", type=int, default=10000,
                        help="members with the pass (default 10000); the n-th scan is member n//2's, so each "
                             "member's daily use stays in slot 1 for the first 2*members scans")
    parser.add_argument("--admin-url", default=ADMIN_URL,
                        help=f"PostgreSQL to create the bench database in (loopback only; default {ADMIN_URL})")
    add_rate_argument(parser, "scans")
    parser.add_argument("--profile", default="", metavar="FILE",
                        help="serve the app under cProfile (one worker) and write its statistics to FILE when it "
                             "stops (read them with python -m pstats FILE); the app's figures are then not comparable")
    parser.add_argument("--in-process", type=int, default=0, metavar="N",
                        help="no servers: CPU time per scan of the app and of the sql baseline called in this "
                             "process, N scans per round each (1 to 100000)")
    parser.add_argument("--without", default="", metavar="LAYERS",
                        help=f"with --in-process: take these layers off the redemption route, comma-separated, to see "
                             f"what they cost ({', '.join(LAYERS)})")
    parser.add_argument("--profile-in-process", action="store_true",
                        help="with --in-process: print a cProfile of N more scans of the app")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if not (load_arguments_in_range(args) and 10 <= args.members <= 1_000_000 and 0 <= args.in_process <= 100_000):
        parser.error(f"out of range: {LOAD_RANGES}, 10<=members<=1000000, 0<=in-process<=100000")
    if args.without and (not args.in_process or not set(args.without.split(",")) <= set(LAYERS)):
        parser.error(f"--without needs --in-process and names layers among {', '.join(LAYERS)}")
    # Every second scan is a member's daily use, DAILY_LIMIT a day each: more scans than that would be refused.
    if args.in_process and (args.rounds + 1) * (args.in_process + 20) > 2 * DAILY_LIMIT * args.members:
        parser.error(f"--in-process: at least (rounds + 1) x (N + 20) / {2 * DAILY_LIMIT} members, so that no "
                     "daily use is refused")
    if urlsplit(args.admin_url).hostname not in ("127.0.0.1", "localhost", "::1"):
        parser.error("--admin-url must point at a loopback address")
    if args.profile and args.workers != 1:
        parser.error("--profile needs --workers 1 (uvicorn serves in its own process then)")
    if not rate_argument_ok(args):
        parser.error("--rate is 'half' or a number of scans/s from 1 to 100000")
    return args


class Scans:
    """The n-th scan: member n//2 (round robin), the unlimited offer on even n, the daily one on odd n,
    a nonce never used before. The counter is its own and runs across rounds (run_load's number, which starts
    again each round, is not used), so no nonce or daily use repeats."""

    def __init__(self, prepared: Prepared, cookie: str, csrf_token: str, path: str) -> None:
        self.prepared, self.cookie, self.csrf_token, self.path = prepared, cookie, csrf_token, path
        self.counter = itertools.count()
        self.run_id = secrets.token_hex(4)

    def __call__(self, _run_number: int = 0) -> RequestSpec:
        n = next(self.counter)
        tokens = self.prepared.tokens
        offer = self.prepared.offers["daily" if n % 2 else "unlimited"]
        body = urlencode({"code": tokens[(n // 2) % len(tokens)], "offer": offer,
                          "nonce": f"b{self.run_id}-{n}", "_csrf_token": self.csrf_token}).encode("ascii")
        return RequestSpec(method="POST", path=self.path, body=body, headers=(
            ("Accept", "text/html"), ("Accept-Language", "ja"), ("HX-Request", "true"),
            ("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", self.cookie),
        ))


def app_ok(status: int, body: bytes) -> bool:
    return status == 200 and OK_MARK in body


def bare_ok(status: int, body: bytes) -> bool:
    return status == 200 and body.startswith(b'{"ok":true')


sql_ok = bare_ok  # a row inserted: {"ok":true,"id":...}


SCANNER_HEADERS = (("Accept", "text/html"), ("Accept-Language", "ja"))


def counter_cookie(auth_token: str, status: int, body: bytes, csrf_cookie: str | None) -> tuple[str, str]:
    """From the answer to GET /shop/scan as the shop staff: the cookies and CSRF token a scanner page would hold."""
    match = CSRF_META.search(body)
    if status != 200 or not match or not csrf_cookie:
        raise RuntimeError(f"/shop/scan as the shop account: {status}, csrf cookie {bool(csrf_cookie)}, "
                           f"token {bool(match)}: {body[:300]!r}")
    return f"tsunagu_auth={auth_token}; {csrf_cookie}", match.group(1).decode("ascii")


def log_in_at_the_counter(port: int, auth_token: str) -> tuple[str, str]:
    status, headers, body = fetch_once(port, RequestSpec(path="/shop/scan", headers=(
        *SCANNER_HEADERS, ("Cookie", f"tsunagu_auth={auth_token}"))), timeout=10.0)
    csrf_cookie = next((v.split(";", 1)[0] for n, v in headers if n == "set-cookie" and v.startswith("tsunagu_csrf=")), None)
    return counter_cookie(auth_token, status, body, csrf_cookie)


def summarize_target(results: list[LoadResult]) -> dict:
    """The shared figures, with the good answers (each one a row) and the median round's mean body size."""
    return summarize(results, good_total=sum(r.good_total for r in results),
                     mean_bytes=round(median([r.mean_bytes for r in results])))


def bench(args: argparse.Namespace, work_dir: Path) -> dict:
    from app.keyfile import new_signing_key

    load_at_start = os.getloadavg()
    name = f"tsunagu_bench_{os.getpid()}"
    url = database_url(args.admin_url, name)
    signing_key = new_signing_key()
    log(f"creating database {name}")
    asyncio.run(admin_execute(args.admin_url, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'))
    try:
        env = app_environment(work_dir, DATABASE_URL=url, SCAN_RATE_LIMIT_PER_MINUTE="1000000", SIGNING_KEY=signing_key)
        log("migrating it (piccolo migrations forwards all)")
        prepare_database(env, demo=False)
        started = time.monotonic()
        prepared = asyncio.run(fill_database(url, args.members, signing_key))
        asyncio.run(admin_execute(url, f"CREATE TABLE {SQL_TABLE} (LIKE redemption INCLUDING ALL)"))
        log(f"filled it: 1 shop, 2 offers, 1 pass, {args.members} members with it, 1 shop account "
            f"({time.monotonic() - started:.1f} s)")
        if args.in_process:
            os.environ.update(env)  # the app and the sql baseline read their settings from it, as servers would
            return asyncio.run(measure_in_process(args, prepared))
        report = serve_and_measure(args, env, work_dir, prepared)
        report["config"]["load_average_at_start"] = [round(x, 2) for x in load_at_start]
        counts = asyncio.run(admin_execute(url, "select count(*) as n, coalesce(max(slot), 0) as max_slot, "
                                                "count(distinct (scanned_by, client_nonce)) as nonces from redemption",
                                           f"select count(*) as n from {SQL_TABLE}"))
        row = counts[0][0]
        report["database"] = {"name": name, "redemption_rows": row["n"], "distinct_nonces": row["nonces"],
                              "highest_daily_slot": row["max_slot"], "sql_rows": counts[1][0]["n"],
                              "postgres": prepared.postgres}
    finally:
        try:
            asyncio.run(admin_execute(args.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            log(f"dropped database {name}")
        except Exception as exc:  # still report: the caller sees the original error, if any
            log(f"could not drop database {name}: {exc!r} — drop it by hand")
    return report


def serve_and_measure(args: argparse.Namespace, env: dict[str, str], work_dir: Path, prepared: Prepared) -> dict:
    app_port, bare_port, sql_port = free_port(), free_port(), free_port()
    app_command = uvicorn_command("app.asgi:app", app_port, args.workers)
    if args.profile:  # cProfile writes FILE when uvicorn exits on the SIGTERM that stops it
        app_command[1:2] = ["-m", "cProfile", "-o", str(Path(args.profile).resolve()), "-m"]
    app_server = ServerProcess("app", app_command, env, app_port, work_dir, ready_path="/healthz")
    if args.profile:
        app_server.stop_signals = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)
    bare_server = ServerProcess("bare", uvicorn_command("bench.redeem:bare_app", bare_port, args.workers), env,
                                bare_port, work_dir, ready_path="/healthz")
    sql_server = ServerProcess("sql", uvicorn_command("bench.redeem:sql_app", sql_port, args.workers), env,
                               sql_port, work_dir, ready_path="/healthz")
    paced = None
    try:
        app_server.start()
        bare_server.start()
        sql_server.start()
        cookie, csrf_token = log_in_at_the_counter(app_port, prepared.auth_token)
        targets = {
            "bare": Target("bare", bare_port, Scans(prepared, cookie, csrf_token, "/redeem"), bare_server, bare_ok,
                           "without the OK mark"),
            "sql": Target("sql", sql_port, Scans(prepared, cookie, csrf_token, "/redeem"), sql_server, sql_ok,
                          "without a row inserted"),
            "sqllogin": Target("sqllogin", sql_port, Scans(prepared, cookie, csrf_token, "/redeem/login"), sql_server,
                               sql_ok, "without a row inserted"),
            "app": Target("app", app_port, Scans(prepared, cookie, csrf_token, "/shop/redeem"), app_server, app_ok,
                          "without the OK mark"),
        }
        sizes = {}
        for name in ("app", "sqllogin", "sql", "bare"):  # one scan each, to fail early with the answer in view
            target = targets[name]
            first = target.spec()
            status, _, body = fetch_once(target.port, first, timeout=10.0)
            if not target.check(status, body):
                raise RuntimeError(f"{name}: the first scan answered {status}: {body[:500]!r}\n"
                                   f"{target.server.log_tail(20)}")
            sizes[name] = f"{len(first.body)} B form -> {len(body)} B"
        log(f"app  POST /shop/redeem (port {app_port}): {sizes['app']} HTML fragment with the OK mark")
        log(f"sql  POST /redeem (port {sql_port}): {sizes['sql']} JSON after one INSERT")
        log(f"sql  POST /redeem/login (port {sql_port}): {sizes['sqllogin']} JSON after the login's lookup and the INSERT")
        log(f"bare POST /redeem (port {bare_port}): {sizes['bare']} JSON")

        # keep_cookies=False: each scan carries the counter's cookies in its own Cookie header
        results = alternate(list(targets.values()), args.rounds, concurrency=args.concurrency, warmup=args.warmup,
                            seconds=args.seconds, keep_cookies=False)
        paced = paced_after_rounds(args, app_port, targets["app"].spec, results["app"], check=app_ok)
        if paced and paced["errors"]:
            log(f"  first error: {paced['first_error']}\n{app_server.log_tail(20)}")
    finally:
        for server in (bare_server, sql_server, app_server):
            server.stop()

    summary = {name: summarize_target(results[name]) for name in targets}
    for name in ("app", "sql", "sqllogin"):
        summary[name]["good_total"] += 1  # the first scan, sent before the rounds
    if paced is not None:
        summary["app"]["good_total"] += paced.pop("result").good_total
    return {
        "config": {
            "seconds": args.seconds, "warmup": args.warmup, "rounds": args.rounds, "concurrency": args.concurrency,
            "workers": args.workers, "members": args.members, "daily_limit": DAILY_LIMIT,
            **host_figures(),
            "server": server_description(args.workers),
            "postgres": prepared.postgres,
        },
        "targets": summary,
        "ratios": ratios(summary["app"], summary["sql"]),  # the target: against one INSERT on the same database
        "ratios_to_login": ratios(summary["app"], summary["sqllogin"]),
        "ratios_to_json": ratios(summary["app"], summary["bare"]),  # the earlier baseline, no database
        "sql_to_json": ratios(summary["sql"], summary["bare"]),
        "paced": paced,
    }


LAYERS = ("template", "csrf", "session", "rate-limit", "hooks")


def take_off(layers: set[str]) -> None:
    """--without: the redemption route without these layers, before the app is made from it."""
    from litestar.response import Response

    from app.rate_limit import scan_rate_limit
    from app.routes.wallet import shop

    handler = shop.redeem_offer
    if "csrf" in layers:
        handler.opt["exclude_from_csrf"] = True  # CSRFConfig's exclude_from_csrf_key
    if "session" in layers:
        handler.opt["skip_session"] = True  # the session middleware's exclude_opt_key
    if "rate-limit" in layers:
        handler.guards = [guard for guard in handler.guards if guard is not scan_rate_limit]
    if "hooks" in layers:
        async def no_hooks(_request) -> None:
            return None

        handler.before_request = no_hooks  # the handler's own hook replaces the app's
    if "template" in layers:
        rendered = shop.page

        def plain_answer(request, template, context=None, **options):
            if template != "wallet/shop/result.html":
                return rendered(request, template, context, **options)
            return Response(PLAIN_ANSWER, media_type="text/html", status_code=options.get("status_code", 200),
                            headers={"Cache-Control": "no-store"})

        shop.page = plain_answer


PLAIN_ANSWER = '<div id="scan-result" data-testid="redeem-ok">' + "x" * 1100 + "</div>"  # the rendered one's size


async def measure_in_process(args: argparse.Namespace, prepared: Prepared) -> dict:
    """CPU time per scan in this process: the app (made as the server makes it) and the sql baseline, N scans
    each per round, alternating; every answer checked as the load rounds check it."""
    from app.main import create_app
    from app.settings import Settings

    take_off(set(filter(None, args.without.split(","))))
    app = create_app(Settings.from_env())
    async with app.lifespan(), sql_app.lifespan():
        scanner = await call_asgi(app, "GET", "/shop/scan", (*SCANNER_HEADERS, ("Cookie", f"tsunagu_auth={prepared.auth_token}")))
        cookie, csrf_token = counter_cookie(prepared.auth_token, scanner.status, scanner.body,
                                            scanner.cookie("tsunagu_csrf"))
        targets = {"sql": (sql_app, Scans(prepared, cookie, csrf_token, "/redeem"), sql_ok),
                   "sqllogin": (sql_app, Scans(prepared, cookie, csrf_token, "/redeem/login"), sql_ok),
                   "app": (app, Scans(prepared, cookie, csrf_token, "/shop/redeem"), app_ok)}

        async def scans(name: str, count: int) -> None:
            target, spec, ok = targets[name]
            for _ in range(count):
                request = spec()
                answer = await call_asgi(target, request.method, request.path, request.headers, request.body)
                if not ok(answer.status, answer.body):
                    raise RuntimeError(f"{name}: a scan answered {answer.status}: {answer.body[:500]!r}")

        cpu_ms: dict[str, list[float]] = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name in cpu_ms:
                await scans(name, 20)  # unmeasured: the pools and caches warm
                started = time.process_time()
                await scans(name, args.in_process)
                cpu_ms[name].append((time.process_time() - started) / args.in_process * 1000)
        profile = None
        if args.profile_in_process:
            import cProfile

            profile = cProfile.Profile()
            profile.enable()
            await scans("app", args.in_process)
            profile.disable()
    medians = {name: statistics.median(rounds) for name, rounds in cpu_ms.items()}
    return {"in_process": True, "scans_per_round": args.in_process, "rounds": args.rounds, "members": args.members,
            "without": args.without,
            "cpu_ms": medians, "rounds_cpu_ms": {name: [round(r, 3) for r in rounds] for name, rounds in cpu_ms.items()},
            "sql_per_app": medians["sql"] / medians["app"], "sqllogin_per_app": medians["sqllogin"] / medians["app"],
            "postgres": prepared.postgres, "profile": profile}


def print_in_process(report: dict) -> None:
    print(f"CPU time per scan in process ({report['rounds']} rounds x {report['scans_per_round']} scans each, "
          f"alternating; medians), {report['members']} members, {report['postgres']}"
          + (f"; the app without: {report['without']}" if report["without"] else ""))
    for name, label in (("sql", "sql POST /redeem (one INSERT)"), ("sqllogin", "sql POST /redeem/login (+ login)"),
                        ("app", "app POST /shop/redeem")):
        rounds = " ".join(f"{r:.3f}" for r in report["rounds_cpu_ms"][name])
        print(f"{label:32} {report['cpu_ms'][name]:6.3f} ms   (rounds: {rounds})")
    print(f"sql/app {report['sql_per_app']:.3f}  (the app's scans per CPU-second, as a share of the baseline's)")
    print(f"sqllogin/app {report['sqllogin_per_app']:.3f}  (the same, against the baseline that looks the login up first)")


def check_database(report: dict) -> list[str]:
    """Every good app answer is one row, and no nonce was counted twice."""
    problems = []
    database, app = report["database"], report["targets"]["app"]
    expected = app["good_total"]
    if database["redemption_rows"] != expected:
        problems.append(f"{database['redemption_rows']} redemption rows for {expected} OK answers")
    if database["distinct_nonces"] != database["redemption_rows"]:
        problems.append(f"{database['redemption_rows']} rows but {database['distinct_nonces']} distinct nonces")
    if database["highest_daily_slot"] > DAILY_LIMIT:
        problems.append(f"a daily offer used {database['highest_daily_slot']} times in one day")
    sql_answers = report["targets"]["sql"]["good_total"] + report["targets"]["sqllogin"]["good_total"]
    if database["sql_rows"] != sql_answers:
        problems.append(f"{database['sql_rows']} {SQL_TABLE} rows for {sql_answers} OK answers of the sql baselines")
    errors = (report.get("paced") or {}).get("errors", 0)
    if errors:
        problems.append(f"{errors} errors in the paced run")
    return problems


def print_table(report: dict, problems: list[str]) -> None:
    config, database = report["config"], report["database"]
    print_comparison(
        report,
        f"Redemptions (POST /shop/redeem) vs bare Litestar + one INSERT, and vs a bare JSON POST — {config['rounds']} rounds x "
        f"{config['seconds']:g} s (+{config['warmup']:g} s warm-up), concurrency {config['concurrency']}, "
        f"{config['workers']} worker(s), {config['cpus']} CPUs, Python {config['python']}, {config['postgres']}",
        [f"data: {config['members']} members with the pass; scans alternate an unlimited offer and a "
         f"{config['daily_limit']}-a-day offer, round robin over the members, a fresh nonce each"],
        {"bare": "bare POST /redeem", "sql": "sql POST /redeem", "sqllogin": "sql POST /redeem/login",
         "app": "app POST /shop/redeem"}, 22,
        [*FIGURE_COLUMNS, ("cpu ms", 7, ".3f", "cpu_ms"), ("bytes", 6, "", "mean_bytes")],
        "(req/s, p50, p99, cpu ms (the server's CPU per answer): median over rounds; errors, requests: summed over "
        "rounds; bytes: response body)",
        ratio_label="app/sql ",
    )
    for label, key in (("app/sqllogin", "ratios_to_login"), ("app/bare", "ratios_to_json"), ("sql/bare", "sql_to_json")):
        r = report[key]
        print(f"{label}  req/s {r['rps']:.3f}   p50 {r['p50']:.2f}x   p99 {r['p99']:.2f}x")
    targets = report["targets"]
    print(f"server CPU per answer: app/sql {targets['app']['cpu_ms'] / targets['sql']['cpu_ms']:.2f}x, "
          f"app/sqllogin {targets['app']['cpu_ms'] / targets['sqllogin']['cpu_ms']:.2f}x, app/bare {targets['app']['cpu_ms'] / targets['bare']['cpu_ms']:.2f}x")
    print_paced(report.get("paced"), "scans")
    print(f"database: {database['redemption_rows']} redemption rows = OK answers (warm-up included), "
          f"{database['distinct_nonces']} distinct nonces, highest daily slot {database['highest_daily_slot']}, "
          f"{database['sql_rows']} {SQL_TABLE} rows; "
          f"{database['name']} dropped")
    errors = total_errors(report)
    if errors or problems:
        print(f"{errors} errors; {'; '.join(problems) or 'database consistent'}: these figures are not valid (exit status 1)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = run_in_temp_dir(lambda work_dir: bench(args, work_dir), "interrupted; servers stopped, database dropped")
    if report is None:
        return 130
    if report.get("in_process"):
        profile = report.pop("profile")
        if profile is not None:
            import pstats

            pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(60)
        return report_and_status(report, args.json, print_in_process, lambda figures: False)
    problems = check_database(report)
    report["database"]["problems"] = problems
    return report_and_status(report, args.json, lambda figures: print_table(figures, problems),
                             lambda figures: total_errors(figures) or problems)


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
