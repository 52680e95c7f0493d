"""CPU time per request of the member pages (and the home page), measured in process: no server, no client.

The app is made as the server makes it (`create_app(Settings.from_env())`, its lifespan entered) on a fresh
SQLite database with the demo data, and a demo member is logged in as `bench/pages.py --member-pages` does.
Each page is then requested by calling the ASGI app directly in this event loop, with the member's cookies,
--requests times after a few unmeasured ones, and the process CPU time (every thread: SQLite's too) is divided
by the number of requests. Figures from a shared machine move much less this way than requests/s do. Each page
is measured twice, round by round: rendered afresh every time (the member page cache off), and served again as
kept while nothing it shows changed (app/page_cache.py: one lookup of the login and its page versions).
--profile prints the functions where the time went (cProfile, this thread only).

    .venv/bin/python bench/page_cpu.py [--requests 200] [--rounds 3] [--profile] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._load import ROOT, Answer, app_environment, call_asgi, log, prepare_database, run_in_temp_dir  # noqa: E402

PAGES = ("/card", "/wallet", "/account", "/programs/mine", "/inbox", "/")


async def call(app, path: str, cookie: str) -> Answer:
    return await call_asgi(app, "GET", path, (("host", "127.0.0.1"), ("accept", "text/html"), ("accept-language", "ja"),
                                              ("cookie", cookie)))


async def measure(args: argparse.Namespace) -> dict:
    from app.main import create_app
    from app.services.membership import login_sessions
    from app.services.shared import clock
    from app.settings import Settings
    from bench._load import RICHEST_MEMBER_SQL
    from db.tables import Member

    app = create_app(Settings.from_env())
    async with app.lifespan():
        account = (await Member.raw(RICHEST_MEMBER_SQL, clock.now()))[0]["account"]
        token = await login_sessions.start(account, "bench/page_cpu.py")
        cookie = f"tsunagu_auth={token}"
        first = await call(app, PAGES[0], cookie)
        if first.status != 200:
            raise RuntimeError(f"{PAGES[0]} answered {first.status}: {first.body[:300]!r}")
        if csrf := first.cookie("tsunagu_csrf"):  # a returning member's browser sends the CSRF cookie it was given
            cookie += "; " + csrf
        kept = app.state.member_page_cache
        ttl_s = kept.ttl_s
        pages = {}
        for path in PAGES:
            answer = await call(app, path, cookie)
            if answer.status != 200:
                raise RuntimeError(f"{path} answered {answer.status}: {answer.body[:300]!r}")
            rounds: dict[str, list[float]] = {"afresh": [], "kept": []}
            for _ in range(args.rounds):
                # Alternating, so that both see the same machine: rendered each time, then served kept.
                for mode in rounds:
                    kept.ttl_s = 0 if mode == "afresh" else ttl_s
                    for _ in range(5):
                        await call(app, path, cookie)
                    started = time.process_time()
                    for _ in range(args.requests):
                        await call(app, path, cookie)
                    rounds[mode].append((time.process_time() - started) / args.requests * 1000)
            pages[path] = {"bytes": len(answer.body), "cpu_ms": statistics.median(rounds["afresh"]),
                           "kept_cpu_ms": statistics.median(rounds["kept"]),
                           "rounds_cpu_ms": [round(r, 3) for r in rounds["afresh"]],
                           "rounds_kept_cpu_ms": [round(r, 3) for r in rounds["kept"]]}
            log(f"{path:15} {len(answer.body):6} B  {pages[path]['cpu_ms']:6.2f} ms CPU rendered, "
                f"{pages[path]['kept_cpu_ms']:6.3f} ms kept  (rounds: {' '.join(f'{r:.2f}' for r in rounds['afresh'])} | "
                f"{' '.join(f'{r:.3f}' for r in rounds['kept'])})")
        kept.ttl_s = 0  # the profile is of rendering
        profile = None
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.requests):
                for path in PAGES:
                    await call(app, path, cookie)
            profiler.disable()
            profile = profiler
    return {"account": account, "requests": args.requests, "rounds": args.rounds, "pages": pages, "profile": profile}


def bench(args: argparse.Namespace, work_dir: Path) -> dict:
    env = app_environment(work_dir)
    log(f"preparing a fresh SQLite database under {work_dir} (migrations + demo data)")
    prepare_database(env)
    os.environ.update(env)
    return asyncio.run(measure(args))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="measured requests per page and round (default 200)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per page; the median is reported (default 3)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of --requests requests of each page")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if not (1 <= args.requests <= 100_000 and 1 <= args.rounds <= 20):
        parser.error("out of range: 1<=requests<=100000, 1<=rounds<=20")
    report = run_in_temp_dir(lambda work_dir: bench(args, work_dir), "interrupted")
    if report is None:
        return 130
    profile = report.pop("profile")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"CPU time per request, in process (median of {args.rounds} rounds of {args.requests}), "
              f"demo member account {report['account']}, SQLite")
        print("page            bytes     rendered  kept (a member's page served again, app/page_cache.py)")
        for path, page in report["pages"].items():
            print(f"{path:15} {page['bytes']:6} B  {page['cpu_ms']:6.2f} ms  {page['kept_cpu_ms']:6.3f} ms")
    if profile is not None:
        pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(60)
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
