"""Shared pieces for Tsunagu's benchmarks: servers started the production way, a keep-alive load client,
and the round alternation and report that compare the app with a bare baseline.

Everything here is bounded: servers get a start deadline and are always stopped (terminate, then kill);
the load client runs for a fixed time with a per-request timeout. Only loopback addresses are used.

Reuse from another benchmark (push fan-out, redemption, ...):

    from bench._load import ROOT, RequestSpec, ServerProcess, Target, alternate, app_environment, \
        prepare_database, print_comparison, ratios, run_load, summarize, uvicorn_command
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import ctypes
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
HOST = "127.0.0.1"
BROWSER = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
           "Version/17.5 Mobile/15E148 Safari/604.1")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------------
# Servers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def uvicorn_command(target: str, port: int, workers: int = 1, app_dir: Path | None = None) -> list[str]:
    """The production command line (as `python -m app serve` runs it), for any ASGI target."""
    command = [PYTHON, "-m", "uvicorn", target, "--host", HOST, "--port", str(port),
               "--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    if app_dir is not None:
        command += ["--app-dir", str(app_dir)]
    return command


def app_environment(var_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for the real app on a fresh var dir and SQLite database, with quiet logging."""
    env = dict(os.environ)
    env.update(
        TSUNAGU_VAR_DIR=str(var_dir),
        DATABASE_URL=f"sqlite:///{var_dir / 'bench.sqlite3'}",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def _run_step(command: list[str], env: dict[str, str], timeout: float) -> None:
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


def prepare_database(env: dict[str, str], demo: bool = True, timeout: float = 120.0) -> None:
    """Migrate the database named by env (and load the demo data), as `make demo` does."""
    _run_step([str(VENV_BIN / "piccolo"), "migrations", "forwards", "all"], env, timeout)
    if demo:
        _run_step([PYTHON, "-m", "app", "demo"], env, timeout)


# A demo member with a pass live in the wallet (its page then shows a QR code, as at a counter), and among those
# the one with the most to show: wallet passes, applications, followed areas, check-ins and notices.
RICHEST_MEMBER_SQL = """
SELECT m.account AS account FROM member m ORDER BY
  (SELECT count(*) FROM wallet_pass w WHERE w.member = m.id AND w.status = 'active' AND w.expires_at > {}) > 0 DESC,
  (SELECT count(*) FROM wallet_pass w WHERE w.member = m.id) + (SELECT count(*) FROM application a WHERE a.member = m.id)
  + (SELECT count(*) FROM area_follow f WHERE f.member = m.id) + (SELECT count(*) FROM check_in c WHERE c.member = m.id)
  + (SELECT count(*) FROM notice n WHERE n.account = m.account) DESC, m.id LIMIT 1
"""


async def log_in_demo_member(url: str, user_agent: str = "bench") -> tuple[int, str]:
    """A login session for the richest demo member, made with the app's own service (no passkey ceremony):
    (account id, the auth cookie's value)."""
    from app.services.membership import login_sessions
    from app.services.shared import clock
    from db.engine import bind, close_pool, make_engine, open_pool
    from db.tables import Member

    engine = make_engine(url)
    bind(engine)
    await open_pool(engine)
    try:
        account = (await Member.raw(RICHEST_MEMBER_SQL, clock.now()))[0]["account"]
        return account, await login_sessions.start(account, user_agent)
    finally:
        await close_pool(engine)


_PR_SET_PDEATHSIG = 1
_running: set["ServerProcess"] = set()


def _die_with_parent() -> None:
    """In the child before exec (Linux): get SIGTERM if the benchmark dies, even by SIGKILL."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


@atexit.register
def _stop_all() -> None:
    for server in list(_running):
        server.stop()


class ServerProcess:
    """A server subprocess in its own process group; `with` waits until it answers and always stops it.

    Three nets: callers stop it in `finally`, an atexit hook stops any left running, and the child
    is told to die with this process (PR_SET_PDEATHSIG) should this process be killed outright.
    """

    def __init__(self, name: str, command: list[str], env: dict[str, str], port: int, log_dir: Path,
                 ready_path: str = "/", start_timeout: float = 30.0) -> None:
        self.name, self.command, self.env, self.port = name, command, env, port
        self.ready_path, self.start_timeout = ready_path, start_timeout
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen | None = None
        # uvicorn re-raises the signal it stopped on; under cProfile, SIGINT (a KeyboardInterrupt) lets it
        # write its statistics, SIGTERM would not.
        self.stop_signals: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGKILL)

    def __enter__(self) -> "ServerProcess":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> None:
        with open(self.log_path, "wb") as log_file:
            # A new session: Ctrl+C reaches only this script, which then stops the server in order.
            self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                            stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
                                            preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        _running.add(self)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                status, _, _ = fetch_once(self.port, self.ready_path, timeout=2.0)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer within {self.start_timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        process, self.process = self.process, None
        _running.discard(self)
        if process is None or process.poll() is not None:
            return
        for sig in self.stop_signals:
            try:
                os.killpg(process.pid, sig)  # the group this script created: the server and its workers
            except ProcessLookupError:
                return
            try:
                process.wait(timeout=timeout)
                return
            except subprocess.TimeoutExpired:
                continue

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the server and its workers so far: every process of its group (Linux;
        0 elsewhere). Unlike req/s, this hardly moves when other work shares the machine."""
        if self.process is None:
            return 0.0
        return group_cpu_seconds(self.process.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def group_cpu_seconds(pgid: int) -> float:
    """utime + stime of the live processes of a process group, from /proc (Linux)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()  # from the state on: pgrp is fields[2], utime/stime [11]/[12]
        if int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.0


def raise_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so `finally` blocks (which stop the servers) run."""
    def handler(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, handler)


def run_in_temp_dir(bench: Callable[[Path], dict], interrupted: str) -> dict | None:
    """bench(work_dir) on a fresh temporary directory, removed afterwards, with SIGTERM raising SystemExit;
    None (after logging `interrupted`) on Ctrl+C. The bench's own `finally` blocks stop what it started."""
    raise_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="tsunagu-bench-") as tmp:
        try:
            return bench(Path(tmp))
        except KeyboardInterrupt:
            log(interrupted)
            return None


def report_and_status(report: dict | None, as_json: bool, print_table: Callable[[dict], None],
                      failed: Callable[[dict], object]) -> int:
    """A benchmark's end: its figures as JSON or as its table, and its exit status (130 when it was interrupted,
    1 when `failed(report)` says the figures are not valid)."""
    if report is None:
        return 130
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    return 1 if failed(report) else 0


# ---------------------------------------------------------------------------------------------------------
# In process: the ASGI app called directly, no server and no client, so its CPU time can be read alone


@dataclass
class Answer:
    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""

    def cookie(self, name: str) -> str | None:
        """`name=value` of a cookie this answer sets, as the browser would send it back."""
        prefix = f"{name}=".encode("latin-1")
        return next((value.split(b";", 1)[0].decode("latin-1") for key, value in self.headers
                     if key.lower() == b"set-cookie" and value.startswith(prefix)), None)


async def call_asgi(app, method: str, path: str, headers: tuple[tuple[str, str], ...] | list[tuple[str, str]] = (),
                    body: bytes = b"") -> Answer:
    """One request through the whole ASGI stack, as uvicorn would send it."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers],
        "client": (HOST, 50000), "server": (HOST, 80), "state": {},
    }
    answer = Answer()
    sent = False

    async def receive():
        nonlocal sent
        if sent:  # the body was read: what follows would be the client going away, which it never does
            await asyncio.Event().wait()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            answer.status, answer.headers = message["status"], list(message.get("headers", []))
        else:
            answer.body += message.get("body", b"")

    await app(scope, receive, send)
    return answer


# ---------------------------------------------------------------------------------------------------------
# HTTP/1.1 over raw asyncio streams: low client overhead, keep-alive, one cookie jar per connection


@dataclass(frozen=True)
class RequestSpec:
    method: str = "GET"
    path: str = "/"
    # As a phone's browser asks: the app counts a public page's views only for browsers (page_views.is_crawler).
    headers: tuple[tuple[str, str], ...] = (("Accept", "text/html"), ("Accept-Language", "ja"), ("User-Agent", BROWSER))
    body: bytes = b""

    def encode(self, port: int, cookies: dict[str, str]) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {HOST}:{port}", "Connection: keep-alive"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        if cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in cookies.items()))
        if self.body or self.method not in ("GET", "HEAD"):
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, list[tuple[str, str]], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    headers = []
    for line in header_lines:
        name, _, value = line.partition(":")
        headers.append((name.strip().lower(), value.strip()))
    lookup = dict(headers)
    if "content-length" in lookup:
        body = await reader.readexactly(int(lookup["content-length"]))
    elif lookup.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            chunks.append(chunk[:-2])
        body = b"".join(chunks)
    elif status in (204, 304) or 100 <= status < 200:
        body = b""
    else:
        body = await reader.read()  # close-delimited
    return status, headers, body


def fetch_once(port: int, request: str | RequestSpec = "/",
               timeout: float = 5.0) -> tuple[int, list[tuple[str, str]], bytes]:
    """One request (a path: a GET) on a fresh connection, for readiness checks, measuring a page or set-up."""
    spec = RequestSpec(path=request) if isinstance(request, str) else request

    async def go():
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            writer.write(spec.encode(port, {}))
            await writer.drain()
            return await read_response(reader)
        finally:
            writer.close()
    async def bounded():
        return await asyncio.wait_for(go(), timeout)
    try:
        return asyncio.run(bounded())
    except asyncio.TimeoutError as exc:
        raise OSError(f"no answer within {timeout} s") from exc


def remember_cookies(jar: dict[str, str], headers: list[tuple[str, str]]) -> None:
    for name, value in headers:
        if name == "set-cookie":
            pair = value.split(";", 1)[0]
            key, _, val = pair.partition("=")
            jar[key.strip()] = val.strip()


@dataclass
class LoadResult:
    seconds: float
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests only
    statuses: Counter = field(default_factory=Counter)
    errors: int = 0  # non-expected status, timeouts and connection failures
    error_kinds: Counter = field(default_factory=Counter)
    body_bytes: int = 0
    first_error: str = ""  # the first unexpected answer or failure, to show what went wrong
    good_total: int = 0  # answers the check accepted, warm-up and stragglers included (e.g. rows written)
    connections: int = 0  # connections opened (paced runs)
    cpu_seconds: float = 0.0  # the server's CPU time during the run (alternate() measures it), warm-up included

    def record(self, status: int, body: bytes, elapsed: float, good: bool, refused_note: str = "") -> None:
        """One answer that started and ended inside the measured window (closed-loop and paced runs alike)."""
        self.statuses[status] += 1
        if good:
            self.latencies.append(elapsed)
            self.body_bytes += len(body)
            return
        self.errors += 1
        note = f" {refused_note}" if status == 200 and refused_note else ""
        self.error_kinds[f"HTTP {status}{note}"] += 1
        self.first_error = self.first_error or f"HTTP {status}: " + body[:500].decode("utf-8", "replace")

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        """The server's CPU per good answer, warm-up included on both sides."""
        return self.cpu_seconds * 1000 / self.good_total if self.good_total else float("nan")

    @property
    def mean_bytes(self) -> float:
        return self.body_bytes / self.ok if self.ok else 0.0

    def percentile_ms(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile, q in [0, 100]."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * q // 100)))
    return ordered[int(rank) - 1]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# ---------------------------------------------------------------------------------------------------------
# Closed-loop load

Builder = Callable[[int], RequestSpec]  # the n-th request of a run (n from 1), to vary method, path, headers, body
Check = Callable[[int, bytes], bool]  # (status, body) -> does the answer count as a success?


def status_is(expected: int = 200) -> Check:
    """The usual check: the answer has this status, whatever its body."""
    def check(status: int, body: bytes) -> bool:
        return status == expected
    return check


STATUS_200 = status_is(200)


async def _run_load(port: int, spec: RequestSpec | Builder, concurrency: int, warmup: float, seconds: float,
                    keep_cookies: bool, check: Check, refused_note: str, request_timeout: float) -> LoadResult:
    loop = asyncio.get_running_loop()
    start = loop.time()
    measure_from = start + warmup
    measure_until = measure_from + seconds
    result = LoadResult(seconds=seconds)
    counter = 0

    async def worker() -> None:
        nonlocal counter
        reader = writer = None
        jar: dict[str, str] = {}
        try:
            while loop.time() < measure_until:  # bounded by time; each request by request_timeout
                counter += 1
                request = spec(counter) if callable(spec) else spec
                sent_at = time.perf_counter()
                in_window = measure_from <= loop.time()
                try:
                    if writer is None:
                        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port),
                                                                request_timeout)
                    writer.write(request.encode(port, jar if keep_cookies else {}))
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
                result.good_total += good
                if keep_cookies:
                    remember_cookies(jar, headers)
                if any(n == "connection" and v.lower() == "close" for n, v in headers):
                    writer.close()
                    reader = writer = None
                # A request counts when it started inside the window and finished before its end.
                if not in_window or loop.time() > measure_until:
                    continue
                result.record(status, body, elapsed, good, refused_note)
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
        task.result()  # a worker's unexpected exception is the benchmark's
    return result


def run_load(port: int, spec: RequestSpec | Builder = RequestSpec(), *, concurrency: int = 16, warmup: float = 1.0,
             seconds: float = 5.0, keep_cookies: bool = True, check: Check = STATUS_200, refused_note: str = "",
             request_timeout: float = 10.0) -> LoadResult:
    """Closed-loop load: `concurrency` keep-alive connections, each sending its next request when the last ends.

    `spec` is one request for all, or a builder `n -> RequestSpec`. An answer counts when `check(status, body)`
    holds (default: a 200); a refused 200 is filed under "HTTP 200 <refused_note>". With keep_cookies, each
    connection behaves like one returning visitor (it keeps the cookies it was given during the warm-up);
    without it every request is a first visit (or carries only the Cookie header its spec sets).
    """
    coroutine = _run_load(port, spec, concurrency, warmup, seconds, keep_cookies, check, refused_note,
                          request_timeout)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


async def _run_paced(port: int, spec: Builder, rate: float, warmup: float, seconds: float, max_connections: int,
                     check: Check, request_timeout: float) -> LoadResult:
    loop = asyncio.get_running_loop()
    start = loop.time()
    measure_from = start + warmup
    measure_until = measure_from + seconds
    result = LoadResult(seconds=seconds)
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    opened = 0
    slots = asyncio.Semaphore(max_connections)
    tasks: set[asyncio.Task] = set()

    async def one(n: int, scheduled: float) -> None:
        nonlocal opened
        in_window = measure_from <= scheduled < measure_until
        async with slots:
            connection = idle.pop() if idle else None
            try:
                if connection is None:
                    connection = await asyncio.wait_for(asyncio.open_connection(HOST, port), request_timeout)
                    opened += 1
                reader, writer = connection
                writer.write(spec(n).encode(port, {}))
                status, headers, body = await asyncio.wait_for(read_response(reader), request_timeout)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    ValueError, IndexError) as exc:
                if connection is not None:
                    connection[1].close()
                if in_window:
                    result.errors += 1
                    result.error_kinds[type(exc).__name__] += 1
                    result.first_error = result.first_error or f"{type(exc).__name__}: {exc}"
                return
            # From when the request was due, not when it was sent: time spent waiting for a free connection
            # is latency too (no coordinated omission).
            elapsed = loop.time() - scheduled
            idle.append(connection)
        good = check(status, body)
        result.good_total += good
        if not in_window:
            return
        result.record(status, body, elapsed, good)

    n = 0
    try:
        while True:  # request n is due at start + n / rate, whatever the answers before it are doing
            scheduled = start + n / rate
            if scheduled >= measure_until:
                break
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            n += 1
            task = asyncio.create_task(one(n, scheduled))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(set(tasks), timeout=request_timeout + 5)
    finally:
        for task in list(tasks):
            task.cancel()
        for _, writer in idle:
            writer.close()
    result.connections = opened
    return result


def run_paced(port: int, spec: Builder, rate: float, *, warmup: float = 1.0, seconds: float = 5.0,
              max_connections: int = 64, check: Check = STATUS_200, request_timeout: float = 10.0) -> LoadResult:
    """Open-loop load: request n is sent at start + n/rate whether or not earlier ones have been answered, on
    up to `max_connections` keep-alive connections (one more request waits for a free one, and that wait counts
    in its latency). Latency runs from when the request was due, so a slow server cannot hide its queue by
    slowing the client down (closed-loop load's coordinated omission). No cookies are kept."""
    coroutine = _run_paced(port, spec, rate, warmup, seconds, max_connections, check, request_timeout)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


def add_rate_argument(parser: argparse.ArgumentParser, unit: str = "requests") -> None:
    parser.add_argument("--rate", default="",
                        help=f"after the rounds, one open-loop run of the app at this many {unit}/s ('half': half the "
                             "app's median req/s of the rounds), latency counted from when each was due")


def rate_argument_ok(args: argparse.Namespace) -> bool:
    if not args.rate or args.rate == "half":
        return True
    try:
        return 1 <= float(args.rate) <= 100_000
    except ValueError:
        return False


def paced_after_rounds(args: argparse.Namespace, port: int, spec: RequestSpec | Builder, rounds: list[LoadResult],
                       check: Check = STATUS_200) -> dict | None:
    """The --rate run after the closed-loop rounds: p50 and p99 at that rate (at half the measured maximum, the
    issue's "p99 ≤ 4 × p50" figure), and the LoadResult under "result"."""
    if not args.rate:
        return None
    rate = median([r.rps for r in rounds]) / 2 if args.rate == "half" else float(args.rate)
    builder = spec if callable(spec) else (lambda _n: spec)
    paced = run_paced(port, builder, rate, warmup=args.warmup, seconds=args.seconds,
                      max_connections=max(64, args.concurrency), check=check)
    p50, p99 = paced.percentile_ms(50), paced.percentile_ms(99)
    log(f"paced app at {rate:.0f}/s: {paced.rps:8.1f} req/s  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  "
        f"errors {paced.errors}  connections {paced.connections}")
    return {"rate": round(rate, 1), "rps": round(paced.rps, 1), "p50_ms": round(p50, 3), "p99_ms": round(p99, 3),
            "p99_over_p50": round(p99 / p50, 2) if p50 > 0 else float("nan"), "errors": paced.errors,
            "connections": paced.connections, "first_error": paced.first_error, "result": paced}


def print_paced(paced: dict | None, unit: str = "requests") -> None:
    if paced:
        print(f"paced (open loop) app at {paced['rate']:.0f} {unit}/s: {paced['rps']:.1f} answered/s, "
              f"p50 {paced['p50_ms']:.2f} ms, p99 {paced['p99_ms']:.2f} ms, p99/p50 {paced['p99_over_p50']:.2f}, "
              f"errors {paced['errors']}, {paced['connections']} connections")


# ---------------------------------------------------------------------------------------------------------
# App against a bare baseline: the common options, alternating rounds, medians, the table and the ratios

LOAD_RANGES = "0<seconds<=300, 0<=warmup<=60, 1<=rounds<=20, 1<=concurrency<=1000, 1<=workers<=16"


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per round (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per round (default 1)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per target, alternating (default 3)")
    parser.add_argument("--concurrency", type=int, default=16, help="connections in flight (default 16)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers per server (default 1)")


def load_arguments_in_range(args: argparse.Namespace) -> bool:
    """The bounds in LOAD_RANGES, which keep every run finite."""
    return (0 < args.seconds <= 300 and 0 <= args.warmup <= 60 and 1 <= args.rounds <= 20
            and 1 <= args.concurrency <= 1000 and 1 <= args.workers <= 16)


@dataclass
class Target:
    """One server under load: its requests, what counts as a good answer, and its log to show on errors."""
    name: str
    port: int
    spec: RequestSpec | Builder
    server: ServerProcess | None = None
    check: Check = STATUS_200
    refused_note: str = ""


def alternate(targets: list[Target], rounds: int, *, concurrency: int, warmup: float, seconds: float,
              keep_cookies: bool = True) -> dict[str, list[LoadResult]]:
    """`rounds` rounds, each loading every target in turn (bare, app, bare, app, ...); one log line a round."""
    results: dict[str, list[LoadResult]] = {target.name: [] for target in targets}
    for round_no in range(1, rounds + 1):
        for target in targets:
            cpu_before = target.server.cpu_seconds() if target.server is not None else 0.0
            result = run_load(target.port, target.spec, concurrency=concurrency, warmup=warmup, seconds=seconds,
                              keep_cookies=keep_cookies, check=target.check, refused_note=target.refused_note)
            if target.server is not None:
                result.cpu_seconds = target.server.cpu_seconds() - cpu_before
            results[target.name].append(result)
            log(f"round {round_no}/{rounds} {target.name:4}: {result.rps:8.1f} req/s  "
                f"p50 {result.percentile_ms(50):7.2f} ms  p99 {result.percentile_ms(99):7.2f} ms  "
                f"cpu {result.cpu_ms_per_request:6.3f} ms/req  "
                f"errors {result.errors}" + (f" {dict(result.error_kinds)}" if result.errors else ""))
            if result.errors:
                log(f"  first error: {result.first_error}")
                if target.server is not None:
                    log(f"  {target.name} server log (last lines):\n{target.server.log_tail(20)}")
    return results


def summarize(results: list[LoadResult], *, round_bytes: bool = False, **extra) -> dict:
    """Medians over rounds (req/s, p50, p99), sums (errors, requests), then `extra`, then each round's figures
    (with its mean body size if round_bytes)."""
    rounds = []
    for r in results:
        figures = {"rps": round(r.rps, 1), "p50_ms": round(r.percentile_ms(50), 3),
                   "p99_ms": round(r.percentile_ms(99), 3), "cpu_ms": round(r.cpu_ms_per_request, 3),
                   "ok": r.ok, "errors": r.errors,
                   "error_kinds": dict(r.error_kinds), "first_error": r.first_error}
        if round_bytes:
            figures["mean_bytes"] = round(r.mean_bytes)
        rounds.append(figures)
    return {
        "rps": median([r.rps for r in results]),
        "p50_ms": median([r.percentile_ms(50) for r in results]),
        "p99_ms": median([r.percentile_ms(99) for r in results]),
        "cpu_ms": median([r.cpu_ms_per_request for r in results]),
        "errors": sum(r.errors for r in results),
        "requests": sum(r.ok for r in results),
        **extra,
        "rounds": rounds,
    }


def ratios(app: dict, bare: dict) -> dict[str, float]:
    """app/bare for the summarized medians; NaN where the baseline is zero (or NaN)."""
    def ratio(a: float, b: float) -> float:
        return a / b if b > 0 else float("nan")
    return {"rps": ratio(app["rps"], bare["rps"]), "p50": ratio(app["p50_ms"], bare["p50_ms"]),
            "p99": ratio(app["p99_ms"], bare["p99_ms"])}


def host_figures() -> dict:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()}


def server_description(workers: int) -> str:
    return "python " + " ".join(uvicorn_command("<target>", 0, workers)[1:]).replace("--port 0", "--port P")


def total_errors(report: dict) -> int:
    return sum(target["errors"] for target in report["targets"].values())


# (heading, width, format, key in a target's summary); the req/s, p50, p99, errors and requests columns:
Column = tuple[str, int, str, str]
FIGURE_COLUMNS: list[Column] = [("req/s", 9, ".1f", "rps"), ("p50 ms", 8, ".2f", "p50_ms"),
                                ("p99 ms", 8, ".2f", "p99_ms"), ("errors", 7, "", "errors"),
                                ("requests", 9, "", "requests")]


def print_comparison(report: dict, title: str, details: list[str], labels: dict[str, str], label_width: int,
                     columns: list[Column], note: str, ratio_label: str = "app/bare") -> None:
    """The heading lines, one row per target (labels: target name -> row label, in order) with each round's
    req/s, the note under the table, and the app/bare ratios."""
    config = report["config"]
    print(title)
    print(f"server: {config['server']}")
    for line in details:
        print(line)
    print("load average at start: " + " ".join(f"{x:.2f}" for x in config["load_average_at_start"])
          + "  (the client shares the machine; other load shifts both targets)")
    print()
    print(f"{'target':<{label_width}}" + "".join(f" {heading:>{width}}" for heading, width, _, _ in columns)
          + "   req/s per round")
    for name, label in labels.items():
        t = report["targets"][name]
        per_round = " ".join(f"{r['rps']:.0f}" for r in t["rounds"])
        print(f"{label:<{label_width}}" + "".join(f" {t[key]:>{width}{fmt}}" for _, width, fmt, key in columns)
              + f"   {per_round}")
    print(note)
    print()
    r = report["ratios"]
    slower = ""
    if 0 < r["rps"] < 1:
        slower = f"  ({1 / r['rps']:.1f}x slower)"
    elif r["rps"] >= 1:
        slower = f"  ({r['rps']:.1f}x faster)"
    print(f"{ratio_label}  req/s {r['rps']:.3f}{slower}   p50 {r['p50']:.2f}x   p99 {r['p99']:.2f}x")
