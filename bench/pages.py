"""Home page (or member pages) throughput and latency: Tsunagu against a bare Litestar + Jinja2 page of the same size.

Both are served in this run by the same production command line
(`uvicorn ... --host 127.0.0.1 --workers 1 --log-level warning --no-access-log`); the app on a fresh
SQLite database, migrated and loaded with the demo data. A closed-loop keep-alive client (raw asyncio
streams on uvloop) keeps --concurrency requests in flight, first for --warmup seconds, then measures for
--seconds. The targets alternate (bare, app, bare, app, ...) for --rounds rounds and the median round
per target is reported, with the app/bare ratios.

    .venv/bin/python bench/pages.py [--seconds 5] [--rounds 3] [--concurrency 16] [--json]

With --member-pages, a demo member is logged in (a login session made directly with the app's service) and
each member page (/card, /wallet, /account, /programs/mine, /inbox) is measured against bench.bare_member_app,
a bare page that runs one indexed SELECT (the session lookup by token hash) on the same database and renders
a page of the same size; --postgres runs it on a fresh PostgreSQL database, dropped at the end. With --rate,
each page is then requested at that rate (open loop; 'half': half the app's median req/s for that page) and its
p50 and p99 are printed: issue #17's "p99 ≤ 4 × p50 at half the measured maximum".

    .venv/bin/python bench/pages.py --member-pages [--postgres] [--afresh] [--seconds 3] [--rate half]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._load import (  # noqa: E402
    FIGURE_COLUMNS,
    LOAD_RANGES,
    ROOT,
    RequestSpec,
    ServerProcess,
    Target,
    add_load_arguments,
    add_rate_argument,
    alternate,
    app_environment,
    fetch_once,
    free_port,
    host_figures,
    load_arguments_in_range,
    log,
    log_in_demo_member,
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

SIZE_TOLERANCE = 0.10
MEMBER_PAGES = ("/card", "/wallet", "/account", "/programs/mine", "/inbox")
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_load_arguments(parser)
    parser.add_argument("--path", default="/", help="page of the app to measure (default /)")
    parser.add_argument("--fresh-visitors", action="store_true",
                        help="send no cookies: every request is a first visit (new session and CSRF cookie)")
    parser.add_argument("--member-pages", action="store_true",
                        help="the pages of a logged-in member against a bare page with one session lookup")
    parser.add_argument("--postgres", action="store_true",
                        help="with --member-pages: a fresh PostgreSQL database (made via --admin-url, dropped at the end)")
    parser.add_argument("--afresh", action="store_true",
                        help="with --member-pages: every page rendered afresh (MEMBER_PAGE_CACHE_SECONDS=0), none served kept")
    parser.add_argument("--admin-url", default=ADMIN_URL, help=f"PostgreSQL for --postgres (loopback only; default {ADMIN_URL})")
    add_rate_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if not load_arguments_in_range(args):
        parser.error(f"out of range: {LOAD_RANGES}")
    if not rate_argument_ok(args):
        parser.error("--rate is 'half' or a number of requests/s from 1 to 100000")
    if args.postgres and not args.member_pages:
        parser.error("--postgres goes with --member-pages")
    if urlsplit(args.admin_url).hostname not in ("127.0.0.1", "localhost", "::1"):
        parser.error("--admin-url must point at a loopback address")
    return args


def header_bytes(headers: list[tuple[str, str]]) -> int:
    return sum(len(name) + len(value) + 4 for name, value in headers)


def rate_limit_rows(work_dir: Path) -> int:
    """Counter rows the rate limits wrote during the run: 0 when the page pays nothing for them (they are
    guards on the logins, registrations, contact form and scans only, app/rate_limit.py)."""
    with closing(sqlite3.connect(work_dir / "bench.sqlite3")) as database:
        return database.execute("SELECT count(*) FROM rate_count").fetchone()[0]


def bench(args: argparse.Namespace, work_dir: Path) -> dict:
    load_at_start = os.getloadavg()
    env = app_environment(work_dir)
    log(f"preparing a fresh database under {work_dir} (migrations + demo data)")
    prepare_database(env)

    app_port, bare_port = free_port(), free_port()
    app_server = ServerProcess("app", uvicorn_command("app.asgi:app", app_port, args.workers), env, app_port,
                               work_dir, ready_path="/healthz")
    bare_server = None
    try:
        app_server.start()
        status, app_headers, app_body = fetch_once(app_port, args.path)
        if status != 200:
            raise RuntimeError(f"the app answered {status} for {args.path}")
        app_bytes = len(app_body)

        bare_env = dict(env, BENCH_BARE_BYTES=str(app_bytes))
        bare_server = ServerProcess("bare", uvicorn_command("bench.bare_app:app", bare_port, args.workers),
                                    bare_env, bare_port, work_dir)
        bare_server.start()
        status, bare_headers, bare_body = fetch_once(bare_port, "/")
        bare_bytes = len(bare_body)
        if status != 200 or abs(bare_bytes - app_bytes) > SIZE_TOLERANCE * app_bytes:
            raise RuntimeError(f"bare page: status {status}, {bare_bytes} bytes for an app page of {app_bytes}")
        log(f"app  {args.path}: {app_bytes} B body + {header_bytes(app_headers)} B headers (port {app_port})")
        log(f"bare /: {bare_bytes} B body + {header_bytes(bare_headers)} B headers (port {bare_port})")

        targets = [Target("bare", bare_port, RequestSpec(path="/"), bare_server),
                   Target("app", app_port, RequestSpec(path=args.path), app_server)]
        results = alternate(targets, args.rounds, concurrency=args.concurrency, warmup=args.warmup,
                            seconds=args.seconds, keep_cookies=not args.fresh_visitors)
        paced = paced_after_rounds(args, app_port, RequestSpec(path=args.path), results["app"])
        if paced:
            paced.pop("result")
    finally:
        for server in (bare_server, app_server):
            if server is not None:
                server.stop()

    counted = rate_limit_rows(work_dir)
    summary = {"bare": {"bytes": bare_bytes, **summarize(results["bare"], round_bytes=True)},
               "app": {"bytes": app_bytes, **summarize(results["app"], round_bytes=True)}}
    return {
        "config": {
            "path": args.path, "seconds": args.seconds, "warmup": args.warmup, "rounds": args.rounds,
            "concurrency": args.concurrency, "workers": args.workers, "fresh_visitors": args.fresh_visitors,
            **host_figures(),
            "load_average_at_start": [round(x, 2) for x in load_at_start],
            "server": server_description(args.workers),
            "rate_limit_rows": counted,
        },
        "targets": summary,
        "ratios": ratios(summary["app"], summary["bare"]),
        "paced": paced,
    }


# ---------------------------------------------------------------------------------------------------------
# Member pages

async def count_rate_rows(url: str) -> int:
    from db.engine import bind, close_pool, make_engine, open_pool
    from db.tables import RateCount

    engine = make_engine(url)
    bind(engine)
    await open_pool(engine)
    try:
        return await RateCount.count()
    finally:
        await close_pool(engine)


def member_cookie(port: int, token: str) -> str:
    """The auth cookie and the CSRF cookie the first page gave, as a returning member's browser sends them."""
    status, headers, body = fetch_once(port, RequestSpec(path=MEMBER_PAGES[0], headers=(
        ("Accept", "text/html"), ("Accept-Language", "ja"), ("Cookie", f"tsunagu_auth={token}"))), timeout=10.0)
    if status != 200:
        raise RuntimeError(f"{MEMBER_PAGES[0]} as the demo member answered {status}: {body[:300]!r}")
    csrf = [v.split(";", 1)[0] for n, v in headers if n == "set-cookie" and v.startswith("tsunagu_csrf=")]
    return "; ".join([f"tsunagu_auth={token}", *csrf])


def member_spec(path: str, cookie: str) -> RequestSpec:
    return RequestSpec(path=path, headers=(("Accept", "text/html"), ("Accept-Language", "ja"), ("Cookie", cookie)))


def bench_member_pages(args: argparse.Namespace, work_dir: Path) -> dict:
    from bench.redeem import admin_execute, database_url

    load_at_start = os.getloadavg()
    name = f"tsunagu_bench_pages_{os.getpid()}"
    env = app_environment(work_dir)
    if args.afresh:
        env["MEMBER_PAGE_CACHE_SECONDS"] = "0"
    if args.postgres:
        env["DATABASE_URL"] = database_url(args.admin_url, name)
        log(f"creating database {name}")
        asyncio.run(admin_execute(args.admin_url, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'))
    try:
        log(f"preparing a fresh {'PostgreSQL' if args.postgres else 'SQLite'} database (migrations + demo data)")
        prepare_database(env)
        account, token = asyncio.run(log_in_demo_member(env["DATABASE_URL"], "bench/pages.py"))
        report = serve_member_pages(args, env, work_dir, token)
        report["config"].update(load_average_at_start=[round(x, 2) for x in load_at_start], account=account,
                                database="postgresql" if args.postgres else "sqlite", afresh=args.afresh,
                                rate_limit_rows=asyncio.run(count_rate_rows(env["DATABASE_URL"])))
        return report
    finally:
        if args.postgres:
            try:
                asyncio.run(admin_execute(args.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                log(f"dropped database {name}")
            except Exception as exc:  # the caller sees the original error, if any
                log(f"could not drop database {name}: {exc!r} — drop it by hand")


def serve_member_pages(args: argparse.Namespace, env: dict[str, str], work_dir: Path, token: str) -> dict:
    app_port, bare_port = free_port(), free_port()
    app_server = ServerProcess("app", uvicorn_command("app.asgi:app", app_port, args.workers), env, app_port,
                               work_dir, ready_path="/healthz")
    bare_server = None
    try:
        app_server.start()
        cookie = member_cookie(app_port, token)
        sizes = {}
        for path in MEMBER_PAGES:
            status, headers, body = fetch_once(app_port, member_spec(path, cookie), timeout=10.0)
            if status != 200 or any(n == "set-cookie" for n, _ in headers):
                raise RuntimeError(f"app {path}: status {status}, cookies {[v for n, v in headers if n == 'set-cookie']}")
            sizes[path] = len(body)
        bare_env = dict(env, BENCH_BARE_DATABASE_URL=env["DATABASE_URL"],
                        BENCH_BARE_PAGES=",".join(f"{path}={size}" for path, size in sizes.items()))
        bare_server = ServerProcess("bare", uvicorn_command("bench.bare_member_app:app", bare_port, args.workers),
                                    bare_env, bare_port, work_dir, ready_path="/healthz")
        bare_server.start()
        for path in MEMBER_PAGES:
            status, _, body = fetch_once(bare_port, member_spec(path, cookie), timeout=10.0)
            if status != 200 or abs(len(body) - sizes[path]) > SIZE_TOLERANCE * sizes[path]:
                raise RuntimeError(f"bare {path}: status {status}, {len(body)} B for an app page of {sizes[path]}")
            log(f"{path}: app {sizes[path]} B, bare {len(body)} B")

        pages = {}
        for path in MEMBER_PAGES:
            targets = [Target("bare", bare_port, member_spec(path, cookie), bare_server),
                       Target("app", app_port, member_spec(path, cookie), app_server)]
            log(f"--- {path}")
            # keep_cookies=False: every request carries the member's cookies in its own Cookie header
            results = alternate(targets, args.rounds, concurrency=args.concurrency, warmup=args.warmup,
                                seconds=args.seconds, keep_cookies=False)
            summary = {name: summarize(results[name], round_bytes=True) for name in ("bare", "app")}
            pages[path] = {"bytes": sizes[path], "targets": summary, "ratios": ratios(summary["app"], summary["bare"])}
            paced = paced_after_rounds(args, app_port, member_spec(path, cookie), results["app"])
            if paced is not None:
                paced.pop("result")
                pages[path]["paced"] = paced
    finally:
        for server in (bare_server, app_server):
            if server is not None:
                server.stop()
    return {
        "config": {
            "pages": list(MEMBER_PAGES), "seconds": args.seconds, "warmup": args.warmup, "rounds": args.rounds,
            "concurrency": args.concurrency, "workers": args.workers, **host_figures(),
            "server": server_description(args.workers),
        },
        "pages": pages,
    }


def member_errors(report: dict) -> int:
    return sum(t["errors"] for page in report["pages"].values() for t in page["targets"].values()) + sum(
        page.get("paced", {}).get("errors", 0) for page in report["pages"].values())


def print_member_table(report: dict) -> None:
    config = report["config"]
    print(f"Member pages vs bare Litestar + Jinja2 with one session SELECT — {config['database']}, "
          f"{config['rounds']} rounds x {config['seconds']:g} s (+{config['warmup']:g} s warm-up) per page and target, "
          f"concurrency {config['concurrency']}, {config['workers']} worker(s), {config['cpus']} CPUs, "
          f"Python {config['python']}")
    print(f"server: {config['server']}")
    print(f"member: account {config['account']} (a demo member with a live pass, the one with the most rows); rate limits: "
          f"{config['rate_limit_rows']} counter rows written")
    print("app pages: " + ("rendered afresh for every request (--afresh)" if config.get("afresh") else
                           "served kept while nothing they show changed, as a member opening them again gets them"))
    print("load average at start: " + " ".join(f"{x:.2f}" for x in config["load_average_at_start"])
          + "  (the client shares the machine; other load shifts both targets)")
    print()
    print(f"{'page':<15} {'bytes':>6} {'bare req/s':>10} {'app req/s':>10} {'app/bare':>8} "
          f"{'bare p50':>9} {'app p50':>8} {'errors':>6}   app/bare per round")
    for path, page in report["pages"].items():
        bare, app = page["targets"]["bare"], page["targets"]["app"]
        per_round = " ".join(f"{a['rps'] / b['rps']:.2f}" if b["rps"] else "nan"
                             for a, b in zip(app["rounds"], bare["rounds"], strict=True))
        print(f"{path:<15} {page['bytes']:>6} {bare['rps']:>10.1f} {app['rps']:>10.1f} {page['ratios']['rps']:>8.3f} "
              f"{bare['p50_ms']:>9.2f} {app['p50_ms']:>8.2f} {bare['errors'] + app['errors']:>6}   {per_round}")
    print("(req/s, p50 in ms: median over rounds; app/bare: of the median req/s; errors: summed over rounds)")
    for path, page in report["pages"].items():
        if "paced" in page:
            print(f"{path:<15} ", end="")
            print_paced(page["paced"])
    errors = member_errors(report)
    if errors:
        print(f"{errors} errors: these figures are not valid (exit status 1)")


def print_table(report: dict) -> None:
    config = report["config"]
    visitors = "fresh visitors (no cookies)" if config["fresh_visitors"] else "returning visitors (cookies kept)"
    print_comparison(
        report,
        f"Home page vs bare Litestar + Jinja2 — {config['rounds']} rounds x {config['seconds']:g} s "
        f"(+{config['warmup']:g} s warm-up), concurrency {config['concurrency']}, {config['workers']} worker(s), "
        f"{config['cpus']} CPUs, Python {config['python']}, {visitors}",
        [f"rate limits: {config['rate_limit_rows']} counter rows written while {config['path']} was measured"],
        {"bare": "bare", "app": f"app {config['path']}"}, 12,
        [("bytes", 7, "", "bytes"), *FIGURE_COLUMNS],
        "(bytes: response body; req/s, p50, p99: median over rounds; errors, requests: summed over rounds)",
    )
    print_paced(report.get("paced"))
    errors = total_errors(report)
    if errors:
        print(f"{errors} errors: these figures are not valid (exit status 1)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.member_pages:
        report = run_in_temp_dir(lambda work_dir: bench_member_pages(args, work_dir),
                                 "interrupted; servers stopped" + (", database dropped" if args.postgres else ""))
        return report_and_status(report, args.json, print_member_table, member_errors)
    report = run_in_temp_dir(lambda work_dir: bench(args, work_dir), "interrupted; servers stopped")
    return report_and_status(report, args.json, print_table, total_errors)


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
