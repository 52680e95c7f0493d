"""Shared pieces for Tsunagu's benchmarks: servers started the production way, and a keep-alive load client.

Everything here is bounded: servers get a start deadline and are always stopped (terminate, then kill);
the load client runs for a fixed time with a per-request timeout. Only loopback addresses are used.

Reuse from another benchmark (push fan-out, redemption, ...):

    from bench._load import ROOT, RequestSpec, ServerProcess, app_environment, prepare_database, \
        run_load, uvicorn_command
"""

from __future__ import annotations

import asyncio
import atexit
import ctypes
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
HOST = "127.0.0.1"


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
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(process.pid, sig)  # the group this script created: the server and its workers
            except ProcessLookupError:
                return
            try:
                process.wait(timeout=timeout)
                return
            except subprocess.TimeoutExpired:
                continue

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def raise_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so `finally` blocks (which stop the servers) run."""
    def handler(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, handler)


# ---------------------------------------------------------------------------------------------------------
# HTTP/1.1 over raw asyncio streams: low client overhead, keep-alive, one cookie jar per connection


@dataclass(frozen=True)
class RequestSpec:
    method: str = "GET"
    path: str = "/"
    headers: tuple[tuple[str, str], ...] = (("Accept", "text/html"), ("Accept-Language", "ja"))
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


def fetch_once(port: int, path: str = "/", timeout: float = 5.0) -> tuple[int, list[tuple[str, str]], bytes]:
    """One GET on a fresh connection (for readiness checks and measuring a page)."""
    async def go():
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            writer.write(RequestSpec(path=path).encode(port, {}))
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

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

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


async def _run_load(port: int, spec: RequestSpec | Callable[[int], RequestSpec], concurrency: int,
                    warmup: float, seconds: float, keep_cookies: bool, expect_status: int,
                    request_timeout: float) -> LoadResult:
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
                if keep_cookies:
                    remember_cookies(jar, headers)
                if any(n == "connection" and v.lower() == "close" for n, v in headers):
                    writer.close()
                    reader = writer = None
                # A request counts when it started inside the window and finished before its end.
                if not in_window or loop.time() > measure_until:
                    continue
                result.statuses[status] += 1
                if status == expect_status:
                    result.latencies.append(elapsed)
                    result.body_bytes += len(body)
                else:
                    result.errors += 1
                    result.error_kinds[f"HTTP {status}"] += 1
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
        task.result()  # a worker's unexpected exception is the benchmark's
    return result


def run_load(port: int, spec: RequestSpec | Callable[[int], RequestSpec] = RequestSpec(), *,
             concurrency: int = 16, warmup: float = 1.0, seconds: float = 5.0, keep_cookies: bool = True,
             expect_status: int = 200, request_timeout: float = 10.0) -> LoadResult:
    """Closed-loop load: `concurrency` keep-alive connections, each sending its next request when the last ends.

    With keep_cookies, each connection behaves like one returning visitor (it keeps the cookies it was
    given during the warm-up); without it every request is a first visit.
    """
    coroutine = _run_load(port, spec, concurrency, warmup, seconds, keep_cookies, expect_status, request_timeout)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)
