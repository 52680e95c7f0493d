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
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._load import (  # noqa: E402
    ROOT,
    LoadResult,
    RequestSpec,
    ServerProcess,
    app_environment,
    fetch_once,
    free_port,
    log,
    median,
    prepare_database,
    raise_on_sigterm,
    run_load,
    uvicorn_command,
)

SIZE_TOLERANCE = 0.10


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per round (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per round (default 1)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per target, alternating (default 3)")
    parser.add_argument("--concurrency", type=int, default=16, help="connections in flight (default 16)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers per server (default 1)")
    parser.add_argument("--path", default="/", help="page of the app to measure (default /)")
    parser.add_argument("--fresh-visitors", action="store_true",
                        help="send no cookies: every request is a first visit (new session and CSRF cookie)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if not (0 < args.seconds <= 300 and 0 <= args.warmup <= 60 and 1 <= args.rounds <= 20
            and 1 <= args.concurrency <= 1000 and 1 <= args.workers <= 16):
        parser.error("out of range: 0<seconds<=300, 0<=warmup<=60, 1<=rounds<=20, 1<=concurrency<=1000, "
                     "1<=workers<=16")
    return args


def summarize(results: list[LoadResult], page_bytes: int) -> dict:
    return {
        "bytes": page_bytes,
        "rps": median([r.rps for r in results]),
        "p50_ms": median([r.percentile_ms(50) for r in results]),
        "p99_ms": median([r.percentile_ms(99) for r in results]),
        "errors": sum(r.errors for r in results),
        "requests": sum(r.ok for r in results),
        "rounds": [
            {"rps": round(r.rps, 1), "p50_ms": round(r.percentile_ms(50), 3), "p99_ms": round(r.percentile_ms(99), 3),
             "ok": r.ok, "errors": r.errors, "error_kinds": dict(r.error_kinds), "first_error": r.first_error,
             "mean_bytes": round(r.mean_bytes)}
            for r in results
        ],
    }


def header_bytes(headers: list[tuple[str, str]]) -> int:
    return sum(len(name) + len(value) + 4 for name, value in headers)


def bench(args: argparse.Namespace, work_dir: Path) -> dict:
    load_at_start = os.getloadavg()
    env = app_environment(work_dir)
    log(f"preparing a fresh database under {work_dir} (migrations + demo data)")
    prepare_database(env)

    spec = RequestSpec(path=args.path)
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

        servers = {"bare": bare_server, "app": app_server}
        targets = {"bare": (bare_port, RequestSpec(path="/")), "app": (app_port, spec)}
        results: dict[str, list[LoadResult]] = {"bare": [], "app": []}
        for round_no in range(1, args.rounds + 1):
            for name, (port, request) in targets.items():
                result = run_load(port, request, concurrency=args.concurrency, warmup=args.warmup,
                                  seconds=args.seconds, keep_cookies=not args.fresh_visitors)
                results[name].append(result)
                log(f"round {round_no}/{args.rounds} {name:4}: {result.rps:8.1f} req/s  "
                    f"p50 {result.percentile_ms(50):7.2f} ms  p99 {result.percentile_ms(99):7.2f} ms  "
                    f"errors {result.errors}" + (f" {dict(result.error_kinds)}" if result.errors else ""))
                if result.errors:
                    log(f"  first error: {result.first_error}")
                    log(f"  {name} server log (last lines):\n{servers[name].log_tail(20)}")
    finally:
        for server in (bare_server, app_server):
            if server is not None:
                server.stop()

    summary = {"bare": summarize(results["bare"], bare_bytes), "app": summarize(results["app"], app_bytes)}
    app_s, bare_s = summary["app"], summary["bare"]
    return {
        "config": {
            "path": args.path, "seconds": args.seconds, "warmup": args.warmup, "rounds": args.rounds,
            "concurrency": args.concurrency, "workers": args.workers, "fresh_visitors": args.fresh_visitors,
            "cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
            "load_average_at_start": [round(x, 2) for x in load_at_start],
            "server": "python " + " ".join(uvicorn_command("<target>", 0, args.workers)[1:]).replace("--port 0", "--port P"),
        },
        "targets": summary,
        "ratios": {
            "rps": app_s["rps"] / bare_s["rps"] if bare_s["rps"] > 0 else float("nan"),
            "p50": app_s["p50_ms"] / bare_s["p50_ms"] if bare_s["p50_ms"] > 0 else float("nan"),
            "p99": app_s["p99_ms"] / bare_s["p99_ms"] if bare_s["p99_ms"] > 0 else float("nan"),
        },
    }


def print_table(report: dict) -> None:
    config = report["config"]
    visitors = "fresh visitors (no cookies)" if config["fresh_visitors"] else "returning visitors (cookies kept)"
    print(f"Home page vs bare Litestar + Jinja2 — {config['rounds']} rounds x {config['seconds']:g} s "
          f"(+{config['warmup']:g} s warm-up), concurrency {config['concurrency']}, {config['workers']} worker(s), "
          f"{config['cpus']} CPUs, Python {config['python']}, {visitors}")
    print(f"server: {config['server']}")
    print("load average at start: " + " ".join(f"{x:.2f}" for x in config["load_average_at_start"])
          + "  (the client shares the machine; other load shifts both targets)")
    print()
    print(f"{'target':<12} {'bytes':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'requests':>9}"
          f"   req/s per round")
    for name, label in (("bare", "bare"), ("app", f"app {config['path']}")):
        t = report["targets"][name]
        per_round = " ".join(f"{r['rps']:.0f}" for r in t["rounds"])
        print(f"{label:<12} {t['bytes']:>7} {t['rps']:>9.1f} {t['p50_ms']:>8.2f} {t['p99_ms']:>8.2f} "
              f"{t['errors']:>7} {t['requests']:>9}   {per_round}")
    print("(bytes: response body; req/s, p50, p99: median over rounds; errors, requests: summed over rounds)")
    print()
    r = report["ratios"]
    slower = f"  ({1 / r['rps']:.1f}x slower)" if r["rps"] > 0 else ""
    print(f"app/bare  req/s {r['rps']:.3f}{slower}   p50 {r['p50']:.2f}x   p99 {r['p99']:.2f}x")
    errors = report["targets"]["app"]["errors"] + report["targets"]["bare"]["errors"]
    if errors:
        print(f"{errors} errors: these figures are not valid (exit status 1)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="tsunagu-bench-") as tmp:
        try:
            report = bench(args, Path(tmp))
        except KeyboardInterrupt:
            log("interrupted; servers stopped")
            return 130
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    errors = report["targets"]["app"]["errors"] + report["targets"]["bare"]["errors"]
    return 1 if errors else 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
