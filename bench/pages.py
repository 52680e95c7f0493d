"""Home page throughput and latency: Tsunagu against a bare Litestar + Jinja2 page of the same size.

Both are served in this run by the same production command line
(`uvicorn ... --host 127.0.0.1 --workers 1 --log-level warning --no-access-log`); the app on a fresh
SQLite database, migrated and loaded with the demo data. A closed-loop keep-alive client (raw asyncio
streams on uvloop) keeps --concurrency requests in flight, first for --warmup seconds, then measures for
--seconds. The targets alternate (bare, app, bare, app, ...) for --rounds rounds and the median round
per target is reported, with the app/bare ratios.

    .venv/bin/python bench/pages.py [--seconds 5] [--rounds 3] [--concurrency 16] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._load import (  # noqa: E402
    FIGURE_COLUMNS,
    LOAD_RANGES,
    ROOT,
    RequestSpec,
    ServerProcess,
    Target,
    add_load_arguments,
    alternate,
    app_environment,
    fetch_once,
    free_port,
    host_figures,
    load_arguments_in_range,
    log,
    prepare_database,
    print_comparison,
    ratios,
    run_in_temp_dir,
    server_description,
    summarize,
    total_errors,
    uvicorn_command,
)

SIZE_TOLERANCE = 0.10


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_load_arguments(parser)
    parser.add_argument("--path", default="/", help="page of the app to measure (default /)")
    parser.add_argument("--fresh-visitors", action="store_true",
                        help="send no cookies: every request is a first visit (new session and CSRF cookie)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if not load_arguments_in_range(args):
        parser.error(f"out of range: {LOAD_RANGES}")
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
    }


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
    errors = total_errors(report)
    if errors:
        print(f"{errors} errors: these figures are not valid (exit status 1)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = run_in_temp_dir(lambda work_dir: bench(args, work_dir), "interrupted; servers stopped")
    if report is None:
        return 130
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    return 1 if total_errors(report) else 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
