"""Two workers against one: requests/s of the member pages and the home page, with a load client written in C.

Issue #17 asks two uvicorn workers to serve at least 1.7 times what one serves. On this 2-core machine the load
client shares the cores with the workers, and the benchmarks' own client (bench/_load.py: Python on asyncio) needs
a good part of a core at the rates one worker reaches, which is then missing from the second worker. Here wrk (a C
client, Debian's package; `make bench` installs it) sends the requests, and what it used of the machine is printed
beside each figure, so a ratio below 1.7 can be told apart from a client that took the second core.

The app runs as in production (`uvicorn app.asgi:app --workers N`, the same command line as bench/pages.py) on a
fresh SQLite database with the demo data. Each page is fetched first to check it answers 200 and sets no cookie, then
wrk warms every worker up (--warmup seconds) and measures (--seconds) on --connections connections kept alive, each
opened by a wrk process of its own one after the other (`run_wrk` says why). The server's CPU time per request is
read from /proc for its whole process group.
Pages:
- the member pages of bench/pages.py --member-pages (/card, /wallet, /account, /programs/mine, /inbox), as the
  richest demo member opening them again (kept per process and per login, app/page_cache.py): the auth cookie and
  the CSRF cookie the first page gave, in every request;
- the home page `/` as a returning visitor (the CSRF cookie it was given), kept by the front layer.
Rounds alternate the order (1 then 2 workers, then 2 then 1) and the median round is reported per page and count.

    .venv/bin/python bench/workers.py [--seconds 5] [--rounds 3] [--connections 16] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._load import (  # noqa: E402
    HOST,
    RequestSpec,
    ServerProcess,
    app_environment,
    fetch_once,
    free_port,
    host_figures,
    log,
    log_in_demo_member,
    prepare_database,
    report_and_status,
    run_in_temp_dir,
    server_description,
    uvicorn_command,
)
from bench.pages import MEMBER_PAGES, member_cookie  # noqa: E402

WRK = shutil.which("wrk")
TARGET_RATIO = 1.7
HOME = "/"
WORKER_COUNTS = (1, 2)
STAGGER_S = 0.01
# wrk's figures: "Requests/sec: 1234.56", "Non-2xx or 3xx responses: 3", "Socket errors: connect 0, read 1, ...".
REQUESTS_PER_S = re.compile(r"Requests/sec:\s+([\d.]+)")
NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(port: int, path: str, cookie: str, seconds: float, connections: int) -> dict:
    """`connections` wrk processes of one connection each, opened STAGGER_S apart: requests/s summed, errors, and
    their CPU seconds per second of the run.

    The workers share the listening socket, and one that is free to accept takes every connection waiting: one wrk
    opening all its connections at once gave them all to one worker in a fifth of the rounds, and two workers then
    served what one does. Opened one by one, each connection goes to a worker that is free to take it, as
    connections from many phones do."""
    command = [WRK, "-t1", "-c1", f"-d{max(1, round(seconds))}s", "-H", "Accept: text/html",
               "-H", "Accept-Language: ja", "-H", f"Cookie: {cookie}", f"http://{HOST}:{port}{path}"]
    cpu_before, started = children_cpu_seconds(), time.monotonic()
    processes: list[subprocess.Popen] = []
    try:
        for _ in range(connections):
            processes.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
            time.sleep(STAGGER_S)
        outputs = [process.communicate(timeout=seconds + 30) for process in processes]
    finally:
        for process in processes:  # only those a timeout or an interruption left running
            if process.poll() is None:
                process.kill()
                process.wait()
    elapsed, client_cpu = time.monotonic() - started, children_cpu_seconds() - cpu_before
    rps, errors = 0.0, 0
    for out, err in outputs:
        rate = REQUESTS_PER_S.search(out)
        if rate is None:
            raise RuntimeError(f"wrk printed no rate for {path}:\n{out}\n{err}")
        non_2xx, sockets = NON_2XX.search(out), SOCKET_ERRORS.search(out)
        rps += float(rate.group(1))
        errors += (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, sockets.groups())) if sockets else 0)
    return {"rps": rps, "errors": errors, "client_cores": client_cpu / elapsed}


def visitor_cookie(port: int) -> str:
    """The CSRF cookie a first visit to the home page gives, as a returning visitor's browser sends it."""
    status, headers, body = fetch_once(port, RequestSpec(path=HOME, headers=(("Accept", "text/html"),)), timeout=10.0)
    if status != 200:
        raise RuntimeError(f"{HOME} answered {status}: {body[:300]!r}")
    return "; ".join(v.split(";", 1)[0] for n, v in headers if n == "set-cookie" and v.startswith("tsunagu_csrf="))


def check_page(port: int, path: str, cookie: str) -> None:
    status, headers, body = fetch_once(port, RequestSpec(path=path, headers=(
        ("Accept", "text/html"), ("Accept-Language", "ja"), ("Cookie", cookie))), timeout=10.0)
    if status != 200 or any(n == "set-cookie" for n, _ in headers):
        raise RuntimeError(f"{path}: status {status}, cookies {[v for n, v in headers if n == 'set-cookie']}: {body[:200]!r}")


def measure_workers(args: argparse.Namespace, env: dict[str, str], work_dir: Path, token: str, workers: int) -> dict:
    """Every page at one worker count: wrk's figures and the server's CPU milliseconds per request."""
    port = free_port()
    with ServerProcess(f"app-{workers}", uvicorn_command("app.asgi:app", port, workers), env, port, work_dir,
                       ready_path="/healthz") as server:
        cookies = {**dict.fromkeys(MEMBER_PAGES, member_cookie(port, token)), HOME: visitor_cookie(port)}
        figures = {}
        for path, cookie in cookies.items():
            check_page(port, path, cookie)
            run_wrk(port, path, cookie, args.warmup, args.connections)  # every worker renders and keeps its copy
            cpu_before = server.cpu_seconds()
            result = run_wrk(port, path, cookie, args.seconds, args.connections)
            requests = result["rps"] * args.seconds
            result["server_cpu_ms"] = (server.cpu_seconds() - cpu_before) / requests * 1000 if requests else None
            figures[path] = result
            log(f"{workers} worker(s) {path:15} {result['rps']:9.1f} req/s  {result['server_cpu_ms']:.3f} ms server CPU "
                f"a request  errors {result['errors']}  client {result['client_cores']:.2f} cores")
        return figures


def bench(args: argparse.Namespace, work_dir: Path) -> dict:
    env = app_environment(work_dir)
    log(f"preparing a fresh SQLite database under {work_dir} (migrations + demo data)")
    prepare_database(env)
    account, token = asyncio.run(log_in_demo_member(env["DATABASE_URL"], "bench/workers.py"))
    rounds: list[dict[int, dict]] = []
    for number in range(args.rounds):
        order = WORKER_COUNTS if number % 2 == 0 else tuple(reversed(WORKER_COUNTS))
        log(f"--- round {number + 1} of {args.rounds}: " + " then ".join(f"{n} worker(s)" for n in order))
        rounds.append({workers: measure_workers(args, env, work_dir, token, workers) for workers in order})
    pages = {}
    for path in (*MEMBER_PAGES, HOME):
        by_count = {workers: [r[workers][path] for r in rounds] for workers in WORKER_COUNTS}
        medians = {workers: statistics.median(f["rps"] for f in runs) for workers, runs in by_count.items()}
        pages[path] = {
            "rps": medians,
            "ratio": medians[2] / medians[1] if medians[1] else None,
            "round_ratios": [r[2][path]["rps"] / r[1][path]["rps"] for r in rounds if r[1][path]["rps"]],
            "server_cpu_ms": {w: statistics.median(f["server_cpu_ms"] for f in runs) for w, runs in by_count.items()},
            "client_cores": {w: statistics.median(f["client_cores"] for f in runs) for w, runs in by_count.items()},
            "errors": sum(f["errors"] for runs in by_count.values() for f in runs),
        }
    return {"config": {"seconds": args.seconds, "warmup": args.warmup, "rounds": args.rounds,
                       "connections": args.connections, "account": account, "server": server_description(2),
                       **host_figures()},
            "pages": pages}


def print_table(report: dict) -> None:
    config = report["config"]
    print(f"Two workers against one, wrk on {config['connections']} connections, {config['rounds']} rounds x "
          f"{config['seconds']:g} s (+{config['warmup']:g} s warm-up) per page and count, SQLite, {config['cpus']} CPUs, "
          f"Python {config['python']}")
    print(f"server: {config['server']}")
    print(f"member pages as demo account {config['account']} opening them again; {HOME} as a returning visitor")
    print()
    print(f"{'page':<15} {'1 worker':>9} {'2 workers':>9} {'2/1':>5}   {'server CPU ms 1 / 2':>19}   "
          f"{'client cores 1 / 2':>18}  errors   2/1 per round")
    for path, page in report["pages"].items():
        cpu, client = page["server_cpu_ms"], page["client_cores"]
        print(f"{path:<15} {page['rps'][1]:9.1f} {page['rps'][2]:9.1f} {page['ratio']:5.2f}   "
              f"{cpu[1]:8.3f} / {cpu[2]:8.3f}   {client[1]:8.2f} / {client[2]:7.2f}  {page['errors']:6}   "
              + " ".join(f"{r:.2f}" for r in page["round_ratios"]))
    print(f"(req/s: median over rounds; target 2/1 ≥ {TARGET_RATIO}; client cores: wrk's CPU seconds per second)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per page and count (default 5)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds before each (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the median is reported (default 3)")
    parser.add_argument("--connections", type=int, default=16,
                        help="connections kept open, one wrk process each (default 16)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if not (1 <= args.seconds <= 120 and 1 <= args.warmup <= 30 and 1 <= args.rounds <= 20
            and 1 <= args.connections <= 64):
        parser.error("1<=seconds<=120, 1<=warmup<=30, 1<=rounds<=20, 1<=connections<=64")
    if WRK is None:
        print("wrk is not installed: `make bench` installs it (Debian's package wrk)", file=sys.stderr)
        return 2
    report = run_in_temp_dir(lambda work_dir: bench(args, work_dir), "interrupted: the servers were stopped")
    return report_and_status(report, args.json, print_table, lambda r: any(p["errors"] for p in r["pages"].values()))


if __name__ == "__main__":
    sys.exit(main())
