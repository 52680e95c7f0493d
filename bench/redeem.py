"""Redemptions/s and p99 on PostgreSQL: POST /shop/redeem against a bare Litestar JSON endpoint.

Both are served in this run by the same production command line
(`uvicorn ... --host 127.0.0.1 --workers 1 --log-level warning --no-access-log`). The app runs on a fresh
PostgreSQL database `tsunagu_bench_<pid>` (created here, migrated with `piccolo migrations forwards all`,
dropped at the end, also on error), filled directly with a shop, an unlimited and a three-a-day offer, a
pass, --members members each with the pass in their wallet, and one shop staff account with a login
session. Every request is a real scan at the counter: the member's signed wallet QR token, an offer, a
nonce never sent before and the CSRF token, posted as the scanner's HTMX form does; only an answer of 200
with `data-testid="redeem-ok"` counts. The baseline (`bench.redeem:bare_app`) parses the same form body
and answers a small JSON object. A closed-loop keep-alive client keeps --concurrency requests in flight;
the targets alternate (bare, app, bare, app, ...) for --rounds rounds and the median round is reported.

    .venv/bin/python bench/redeem.py [--seconds 5] [--rounds 3] [--concurrency 16] [--members 10000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import re
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Callable
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from litestar import Litestar, MediaType, get, post  # noqa: E402
from litestar.enums import RequestEncodingType  # noqa: E402
from litestar.params import Body  # noqa: E402

from bench._load import (  # noqa: E402
    HOST,
    ROOT,
    LoadResult,
    RequestSpec,
    ServerProcess,
    app_environment,
    free_port,
    log,
    median,
    prepare_database,
    raise_on_sigterm,
    read_response,
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
    from app.services.wallet import SHORT_CODE_ALPHABET

    return "".join(SHORT_CODE_ALPHABET[(n >> (5 * i)) & 31] for i in range(8))


async def fill_database(url: str, members: int, signing_key: str) -> Prepared:
    """Rows written directly (no HTTP), then the staff's session made with the app's own service."""
    from app.services import clock, login_sessions
    from app.services.passkeys import new_user_handle
    from app.services.signed_tokens import TokenSigner
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
# HTTP: one request at a time for set-up, and a closed-loop load that checks every answer's body


async def request_once(port: int, spec: RequestSpec, timeout: float = 10.0) -> tuple[int, list[tuple[str, str]], bytes]:
    async def go():
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            writer.write(spec.encode(port, {}))
            await writer.drain()
            return await read_response(reader)
        finally:
            writer.close()
    return await asyncio.wait_for(go(), timeout)


@dataclass
class CheckedResult:
    load: LoadResult
    good_total: int  # good answers, warm-up and stragglers included (each one is a row in the database)


async def _checked_load(port: int, make_request: Callable[[], RequestSpec], check: Callable[[int, bytes], bool],
                        concurrency: int, warmup: float, seconds: float, request_timeout: float) -> CheckedResult:
    """bench._load.run_load's closed loop (keep-alive, the same accounting), but an answer counts only when
    `check(status, body)` holds, and every good answer is tallied so the database can be compared."""
    loop = asyncio.get_running_loop()
    measure_from = loop.time() + warmup
    measure_until = measure_from + seconds
    result = LoadResult(seconds=seconds)
    good_total = 0

    async def worker() -> None:
        nonlocal good_total
        reader = writer = None
        try:
            while loop.time() < measure_until:  # bounded by time; each request by request_timeout
                request = make_request()
                sent_at = time.perf_counter()
                in_window = measure_from <= loop.time()
                try:
                    if writer is None:
                        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), request_timeout)
                    writer.write(request.encode(port, {}))
                    status, headers, body = await asyncio.wait_for(read_response(reader), request_timeout)
                except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                        ValueError, IndexError) as exc:
                    if in_window:
                        result.errors += 1
                        result.error_kinds[type(exc).__name__] += 1
                        result.first_error = result.first_error or f"{type(exc).__name__}: {exc}"
                    if writer is not None:
                        writer.close()
                    reader = writer = None
                    await asyncio.sleep(0.05)  # no tight loop against a dead server
                    continue
                elapsed = time.perf_counter() - sent_at
                good = check(status, body)
                good_total += good
                if any(n == "connection" and v.lower() == "close" for n, v in headers):
                    writer.close()
                    reader = writer = None
                if not in_window or loop.time() > measure_until:
                    continue
                result.statuses[status] += 1
                if good:
                    result.latencies.append(elapsed)
                    result.body_bytes += len(body)
                else:
                    result.errors += 1
                    result.error_kinds[f"HTTP {status}" + ("" if status != 200 else " without the OK mark")] += 1
                    result.first_error = result.first_error or (
                        f"HTTP {status}: " + body[:500].decode("utf-8", "replace"))
        finally:
            if writer is not None:
                writer.close()

    tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
    try:
        done, _ = await asyncio.wait(tasks, timeout=warmup + seconds + request_timeout + 5)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks, timeout=5)
    for task in done:
        task.result()
    return CheckedResult(result, good_total)


def run_checked_load(*args) -> CheckedResult:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(_checked_load(*args))
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(_checked_load(*args))


# ---------------------------------------------------------------------------------------------------------
# The benchmark


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per round (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per round (default 1)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per target, alternating (default 3)")
    parser.add_argument("--concurrency", type=int, default=16, help="connections in flight (default 16)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers per server (default 1)")
    parser.add_argument("--members", type=int, default=10000,
                        help="members with the pass (default 10000); the n-th scan is member n//2's, so each "
                             "member's daily use stays in slot 1 for the first 2*members scans")
    parser.add_argument("--admin-url", default=ADMIN_URL,
                        help=f"PostgreSQL to create the bench database in (loopback only; default {ADMIN_URL})")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if not (0 < args.seconds <= 300 and 0 <= args.warmup <= 60 and 1 <= args.rounds <= 20
            and 1 <= args.concurrency <= 1000 and 1 <= args.workers <= 16 and 10 <= args.members <= 1_000_000):
        parser.error("out of range: 0<seconds<=300, 0<=warmup<=60, 1<=rounds<=20, 1<=concurrency<=1000, "
                     "1<=workers<=16, 10<=members<=1000000")
    if urlsplit(args.admin_url).hostname not in ("127.0.0.1", "localhost", "::1"):
        parser.error("--admin-url must point at a loopback address")
    return args


class Scans:
    """The n-th scan: member n//2 (round robin), the unlimited offer on even n, the daily one on odd n,
    a nonce never used before. The counter runs across rounds, so no nonce or daily use repeats."""

    def __init__(self, prepared: Prepared, cookie: str, csrf_token: str, path: str) -> None:
        self.prepared, self.cookie, self.csrf_token, self.path = prepared, cookie, csrf_token, path
        self.counter = itertools.count()
        self.run_id = secrets.token_hex(4)

    def __call__(self) -> RequestSpec:
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


async def log_in_at_the_counter(port: int, auth_token: str) -> tuple[str, str]:
    """GET /shop/scan as the shop staff: the CSRF cookie and token a scanner page would hold."""
    status, headers, body = await request_once(port, RequestSpec(path="/shop/scan", headers=(
        ("Accept", "text/html"), ("Accept-Language", "ja"), ("Cookie", f"tsunagu_auth={auth_token}"))))
    match = CSRF_META.search(body)
    csrf_cookie = next((v.split(";", 1)[0].split("=", 1)[1] for n, v in headers
                        if n == "set-cookie" and v.startswith("tsunagu_csrf=")), "")
    if status != 200 or not match or not csrf_cookie:
        raise RuntimeError(f"/shop/scan as the shop account: {status}, csrf cookie {bool(csrf_cookie)}, "
                           f"token {bool(match)}: {body[:300]!r}")
    return f"tsunagu_auth={auth_token}; tsunagu_csrf={csrf_cookie}", match.group(1).decode("ascii")


def summarize(results: list[CheckedResult]) -> dict:
    loads = [r.load for r in results]
    return {
        "rps": median([r.rps for r in loads]),
        "p50_ms": median([r.percentile_ms(50) for r in loads]),
        "p99_ms": median([r.percentile_ms(99) for r in loads]),
        "errors": sum(r.errors for r in loads),
        "requests": sum(r.ok for r in loads),
        "good_total": sum(r.good_total for r in results),
        "mean_bytes": round(median([r.mean_bytes for r in loads])),
        "rounds": [
            {"rps": round(r.rps, 1), "p50_ms": round(r.percentile_ms(50), 3), "p99_ms": round(r.percentile_ms(99), 3),
             "ok": r.ok, "errors": r.errors, "error_kinds": dict(r.error_kinds), "first_error": r.first_error}
            for r in loads
        ],
    }


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
        log(f"filled it: 1 shop, 2 offers, 1 pass, {args.members} members with it, 1 shop account "
            f"({time.monotonic() - started:.1f} s)")
        report = serve_and_measure(args, env, work_dir, prepared)
        report["config"]["load_average_at_start"] = [round(x, 2) for x in load_at_start]
        counts = asyncio.run(admin_execute(url, "select count(*) as n, coalesce(max(slot), 0) as max_slot, "
                                                "count(distinct (scanned_by, client_nonce)) as nonces from redemption"))
        row = counts[0][0]
        report["database"] = {"name": name, "redemption_rows": row["n"], "distinct_nonces": row["nonces"],
                              "highest_daily_slot": row["max_slot"], "postgres": prepared.postgres}
    finally:
        try:
            asyncio.run(admin_execute(args.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            log(f"dropped database {name}")
        except Exception as exc:  # still report: the caller sees the original error, if any
            log(f"could not drop database {name}: {exc!r} — drop it by hand")
    return report


def serve_and_measure(args: argparse.Namespace, env: dict[str, str], work_dir: Path, prepared: Prepared) -> dict:
    app_port, bare_port = free_port(), free_port()
    app_server = ServerProcess("app", uvicorn_command("app.asgi:app", app_port, args.workers), env, app_port,
                               work_dir, ready_path="/healthz")
    bare_server = ServerProcess("bare", uvicorn_command("bench.redeem:bare_app", bare_port, args.workers), env,
                                bare_port, work_dir, ready_path="/healthz")
    servers = {"bare": bare_server, "app": app_server}
    try:
        app_server.start()
        bare_server.start()
        cookie, csrf_token = asyncio.run(log_in_at_the_counter(app_port, prepared.auth_token))
        scans = {"app": Scans(prepared, cookie, csrf_token, "/shop/redeem"),
                 "bare": Scans(prepared, cookie, csrf_token, "/redeem")}
        checks = {"app": app_ok, "bare": bare_ok}
        ports = {"app": app_port, "bare": bare_port}
        sizes = {}
        for target in ("app", "bare"):  # one scan each, to fail early with the answer in view
            first = scans[target]()
            status, _, body = asyncio.run(request_once(ports[target], first))
            if not checks[target](status, body):
                raise RuntimeError(f"{target}: the first scan answered {status}: {body[:500]!r}\n"
                                   f"{servers[target].log_tail(20)}")
            sizes[target] = f"{len(first.body)} B form -> {len(body)} B"
        log(f"app  POST /shop/redeem (port {app_port}): {sizes['app']} HTML fragment with the OK mark")
        log(f"bare POST /redeem (port {bare_port}): {sizes['bare']} JSON")

        results: dict[str, list[CheckedResult]] = {"bare": [], "app": []}
        for round_no in range(1, args.rounds + 1):
            for target in ("bare", "app"):
                result = run_checked_load(ports[target], scans[target], checks[target], args.concurrency,
                                          args.warmup, args.seconds, 10.0)
                results[target].append(result)
                r = result.load
                log(f"round {round_no}/{args.rounds} {target:4}: {r.rps:8.1f} req/s  p50 {r.percentile_ms(50):7.2f} ms  "
                    f"p99 {r.percentile_ms(99):7.2f} ms  errors {r.errors}" + (f" {dict(r.error_kinds)}" if r.errors else ""))
                if r.errors:
                    log(f"  first error: {r.first_error}")
                    log(f"  {target} server log (last lines):\n{servers[target].log_tail(20)}")
    finally:
        for server in (bare_server, app_server):
            server.stop()

    summary = {target: summarize(results[target]) for target in ("bare", "app")}
    summary["app"]["good_total"] += 1  # the first scan, sent before the rounds
    app_s, bare_s = summary["app"], summary["bare"]
    ratio = lambda a, b: a / b if b > 0 else float("nan")  # noqa: E731
    return {
        "config": {
            "seconds": args.seconds, "warmup": args.warmup, "rounds": args.rounds, "concurrency": args.concurrency,
            "workers": args.workers, "members": args.members, "daily_limit": DAILY_LIMIT,
            "cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
            "server": "python " + " ".join(uvicorn_command("<target>", 0, args.workers)[1:]).replace("--port 0", "--port P"),
            "postgres": prepared.postgres,
        },
        "targets": summary,
        "ratios": {"rps": ratio(app_s["rps"], bare_s["rps"]), "p50": ratio(app_s["p50_ms"], bare_s["p50_ms"]),
                   "p99": ratio(app_s["p99_ms"], bare_s["p99_ms"])},
    }


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
    return problems


def print_table(report: dict, problems: list[str]) -> None:
    config, database = report["config"], report["database"]
    print(f"Redemptions (POST /shop/redeem) vs bare Litestar JSON POST — {config['rounds']} rounds x "
          f"{config['seconds']:g} s (+{config['warmup']:g} s warm-up), concurrency {config['concurrency']}, "
          f"{config['workers']} worker(s), {config['cpus']} CPUs, Python {config['python']}, {config['postgres']}")
    print(f"server: {config['server']}")
    print(f"data: {config['members']} members with the pass; scans alternate an unlimited offer and a "
          f"{config['daily_limit']}-a-day offer, round robin over the members, a fresh nonce each")
    print("load average at start: " + " ".join(f"{x:.2f}" for x in config["load_average_at_start"])
          + "  (the client shares the machine; other load shifts both targets)")
    print()
    print(f"{'target':<20} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'requests':>9} {'bytes':>6}"
          f"   req/s per round")
    for name, label in (("bare", "bare POST /redeem"), ("app", "app POST /shop/redeem")):
        t = report["targets"][name]
        per_round = " ".join(f"{r['rps']:.0f}" for r in t["rounds"])
        print(f"{label:<20} {t['rps']:>9.1f} {t['p50_ms']:>8.2f} {t['p99_ms']:>8.2f} {t['errors']:>7} "
              f"{t['requests']:>9} {t['mean_bytes']:>6}   {per_round}")
    print("(req/s, p50, p99: median over rounds; errors, requests: summed over rounds; bytes: response body)")
    print()
    r = report["ratios"]
    slower = f"  ({1 / r['rps']:.1f}x slower)" if r["rps"] > 0 else ""
    print(f"app/bare  req/s {r['rps']:.3f}{slower}   p50 {r['p50']:.2f}x   p99 {r['p99']:.2f}x")
    print(f"database: {database['redemption_rows']} redemption rows = OK answers (warm-up included), "
          f"{database['distinct_nonces']} distinct nonces, highest daily slot {database['highest_daily_slot']}; "
          f"{database['name']} dropped")
    errors = report["targets"]["app"]["errors"] + report["targets"]["bare"]["errors"]
    if errors or problems:
        print(f"{errors} errors; {'; '.join(problems) or 'database consistent'}: these figures are not valid (exit status 1)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="tsunagu-bench-") as tmp:
        try:
            report = bench(args, Path(tmp))
        except KeyboardInterrupt:
            log("interrupted; servers stopped, database dropped")
            return 130
    problems = check_database(report)
    report["database"]["problems"] = problems
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report, problems)
    errors = report["targets"]["app"]["errors"] + report["targets"]["bare"]["errors"]
    return 1 if errors or problems else 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
