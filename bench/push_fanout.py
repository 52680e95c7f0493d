"""Push fan-out: 10,000 subscriptions on the fake push service (tests/push_service.py, in its own process),
one notification, fanned out and sent by the real sender code (`push_delivery.run_once` with an aiohttp client, as
app/push_sender.py gives it).

Prints the end-to-end messages/s (fan-out + encryption + VAPID + HTTP + recording every outcome), the
crypto-only rate (encryption + the VAPID header, no network, no database) measured in the same run, and
their ratio. SQLite in a temporary directory by default; `--postgres` uses a fresh database on the local
PostgreSQL, dropped at the end. Loopback only; every process it starts is stopped.

    .venv/bin/python bench/push_fanout.py
    .venv/bin/python bench/push_fanout.py --postgres
    .venv/bin/python bench/push_fanout.py --senders 1 --subscriptions 2000 --profile
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
SUBJECT = "mailto:bench@localhost"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def migrate(database_url: str, var_dir: Path) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "TSUNAGU_VAR_DIR": str(var_dir), "LOG_LEVEL": "WARNING"}
    result = subprocess.run([PYTHON, "-m", "piccolo.main", "migrations", "forwards", "all"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0 or "failed" in result.stdout:
        raise RuntimeError(f"migrations failed:\n{result.stdout}\n{result.stderr}")


async def _admin(admin_url: str, sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def fill(subscriptions: list[dict], devices_each: int) -> None:
    """Members (as the registration would leave them, minus passkeys) and their subscriptions, in bulk."""
    from app.services.shared import clock
    from db.tables import Account, Member, PushSubscription

    now = clock.now()
    people = (len(subscriptions) + devices_each - 1) // devices_each
    accounts: list[int] = []
    for start in range(0, people, 500):
        rows = await Account.insert(*[
            Account(role="member", display_name=f"会員{i}", webauthn_user_id=secrets.token_urlsafe(24), created_at=now)
            for i in range(start, min(start + 500, people))
        ]).returning(Account.id)
        accounts += [row["id"] for row in rows]
    for start in range(0, people, 500):
        await Member.insert(*[
            Member(account=account, member_no=f"BENCH-{account:07d}", home_prefecture="13", consent_version="bench",
                   consent_at=now, created_at=now)
            for account in accounts[start:start + 500]
        ])
    for start in range(0, len(subscriptions), 500):
        await PushSubscription.insert(*[
            PushSubscription(account=accounts[(start + i) // devices_each], endpoint=s["endpoint"], p256dh=s["p256dh"],
                             auth=s["auth"], device_label="bench", created_at=now)
            for i, s in enumerate(subscriptions[start:start + 500])
        ])


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) of this process or of `pid`, all threads: a figure a busy machine does not
    distort as much as wall time."""
    if pid is None:
        return time.process_time()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, idle) CPU seconds of the whole machine so far, all CPUs (/proc/stat): during the run, busy
    minus our own processes is what the database server and everyone else on the machine took."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK"), idle / os.sysconf("SC_CLK_TCK")


def crypto_only(subscriptions: list[dict], signer, seconds: float = 2.0) -> tuple[float, int, float]:
    """Messages/s for what each push costs in CPU before the network: encrypt the payload for the device
    (ephemeral ECDH, HKDF, AES-128-GCM) and take the VAPID header (signed once per origin, then reused)."""
    from app.services.notify import push_message

    notification = {"id": 1, "title": "雪まつりのお知らせ", "body": "2月10日から勇払で開催します。", "url": "/programs/1"}
    done, deadline, start, cpu = 0, time.perf_counter() + seconds, time.perf_counter(), time.process_time()
    while time.perf_counter() < deadline and done < 100_000:
        subscription = subscriptions[done % len(subscriptions)]
        push_message.encrypt(subscription, push_message.payload_for(notification, done + 1))
        signer.authorization(subscription["endpoint"])
        done += 1
    return done / (time.perf_counter() - start), done, (time.process_time() - cpu) / done


def start_senders(args: argparse.Namespace, database_url: str, vapid_private: str, push_origin: str) -> list[subprocess.Popen]:
    """Sender processes (as SAQ workers would be), started and imported before the clock starts; each waits
    for "go" on stdin (at the end of input it exits without sending), then runs one `push_delivery.run_once` and
    prints its SendStats as JSON."""
    env = {**os.environ, "DATABASE_URL": database_url, "BENCH_VAPID_PRIVATE_KEY": vapid_private, "LOG_LEVEL": "WARNING",
           "BENCH_PUSH_ORIGIN": push_origin}
    command = [PYTHON, str(Path(__file__).resolve()), "--sender-child", "--client", args.client,
               "--concurrency", str(args.concurrency)] + (["--no-uvloop"] if args.no_uvloop else [])
    processes: list[subprocess.Popen] = []
    try:
        for _ in range(args.senders):
            processes.append(subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                              text=True))
        for process in processes:
            if process.stdout.readline().strip() != "READY":
                raise RuntimeError("a sender process did not start")
    except BaseException:
        for process in processes:
            stop_process(process)
        raise
    return processes


def run_senders(processes: list[subprocess.Popen]):
    """Start the waiting senders at once; their summed SendStats, the CPU seconds they spent sending and how
    long each took (the spread is the time one sender had nothing left to claim while another still sent).
    Each reports as soon as its round ends, before it closes its pool and exits."""
    from app.services.notify import push_delivery

    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()
    total, cpu, walls = push_delivery.SendStats(), 0.0, []
    for process in processes:
        line = process.stdout.readline()  # bounded: a sender that fails or dies closes its stdout
        if not line.strip():
            raise RuntimeError(f"a sender process failed ({process.wait(10)})")
        report = json.loads(line)
        cpu += report.pop("cpu_s")
        walls.append(report.pop("wall_s"))
        for name, value in report.items():
            setattr(total, name, getattr(total, name) + value)
    return total, cpu, walls


def stop_process(process: subprocess.Popen) -> None:
    """Let a sender that has reported close its pool and exit; kill it if it does not."""
    try:
        process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


async def sender_child(args: argparse.Namespace) -> None:
    from dataclasses import asdict

    from app.services.notify import push_delivery, push_message
    from app.services.notify.push_endpoints import PushHosts
    from db.engine import bind, close_pool, make_engine, open_pool

    engine = make_engine(os.environ["DATABASE_URL"])
    bind(engine)
    await open_pool(engine)
    try:
        signer = push_message.VapidSigner(os.environ["BENCH_VAPID_PRIVATE_KEY"], SUBJECT)
        hosts = PushHosts([os.environ["BENCH_PUSH_ORIGIN"]])  # the fake service on loopback, as PUSH_EXTRA_HOSTS lists it
        async with make_client(args.client, args.concurrency) as client:
            print("READY", flush=True)
            if (await asyncio.to_thread(sys.stdin.readline)).strip() != "go":
                return  # the benchmark stopped before the send phase
            cpu, wall = time.process_time(), time.perf_counter()
            stats = await push_delivery.run_once(client, signer, concurrency=args.concurrency, hosts=hosts)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            print(json.dumps({**asdict(stats), "cpu_s": cpu, "wall_s": wall}), flush=True)
    finally:
        await close_pool(engine)


def make_client(kind: str, concurrency: int):
    """The sender's HTTP client: `aiohttp` is the one app/push_sender.py gives the sender; `httpx` (which
    `push_delivery.send_claimed` also takes) for comparison."""
    from app import push_sender

    if kind == "aiohttp":
        return push_sender.http_client()
    import httpx

    return httpx.AsyncClient(timeout=httpx.Timeout(10, connect=5), limits=httpx.Limits(max_connections=concurrency))


async def run(args: argparse.Namespace, database_url: str, work_dir: Path) -> dict:
    from app.keyfile import new_vapid_keys
    from app.services.notify import push_delivery, push_message, push_notifications
    from app.services.notify.push_endpoints import PushHosts
    from app.services.notify.push_notifications import Target
    from db.engine import bind, close_pool, make_engine, open_pool
    from db.tables import Delivery
    from tests.push_service import FakePushServiceProcess

    vapid_private, vapid_public = new_vapid_keys()
    with FakePushServiceProcess(python=PYTHON, decrypt_every=args.decrypt_every) as service:
        log(f"fake push service on {service.origin} (pid {service.process.pid})")
        subscriptions = []
        while len(subscriptions) < args.subscriptions:
            subscriptions += service.devices(min(2000, args.subscriptions - len(subscriptions)), server_key=vapid_public)

        engine = make_engine(database_url)
        bind(engine)
        await open_pool(engine)
        try:
            started = time.perf_counter()
            await fill(subscriptions, args.devices_each)
            log(f"{len(subscriptions)} subscriptions stored in {time.perf_counter() - started:.1f} s")

            signer = push_message.VapidSigner(vapid_private, SUBJECT)
            started = time.perf_counter()
            signer.authorization(service.origin + "/push/x")
            sign_ms = (time.perf_counter() - started) * 1000
            crypto_rate, crypto_n, crypto_cpu = crypto_only(subscriptions, push_message.VapidSigner(vapid_private, SUBJECT))
            log(f"crypto only: {crypto_rate:,.0f} messages/s over {crypto_n} messages")

            notification = await push_notifications.create_notification(Target(topic="news"), "雪まつりのお知らせ",
                                                          "2月10日から勇払で開催します。", "/programs/1", None)
            profiler = cProfile.Profile() if args.profile else None
            senders = start_senders(args, database_url, vapid_private, service.origin) if args.senders > 1 else []
            try:
                async with make_client(args.client, args.concurrency) as client:
                    started = time.perf_counter()
                    cpu_started, service_cpu_started = cpu_seconds(), cpu_seconds(service.process.pid)
                    machine_started = machine_cpu_seconds()
                    await push_notifications.fan_out_due()
                    fanned = time.perf_counter()
                    if profiler:
                        profiler.enable()
                    senders_cpu, sender_walls = 0.0, []
                    if senders:
                        stats, senders_cpu, sender_walls = await asyncio.to_thread(run_senders, senders)
                    else:
                        stats = await push_delivery.run_once(client, signer, concurrency=args.concurrency,
                                                             hosts=PushHosts([service.origin]))
                    if profiler:
                        profiler.disable()
                    ended = time.perf_counter()
                    cpu_ended, service_cpu_ended = cpu_seconds() + senders_cpu, cpu_seconds(service.process.pid)
                    machine_ended = machine_cpu_seconds()
            finally:
                for process in senders:
                    stop_process(process)
            counts = await push_notifications.notification_stats(notification)
            attempts = await Delivery.count().where(Delivery.attempts > 1)
        finally:
            await close_pool(engine)
        # Every message the run did not decrypt is decrypted now, off the clock (see tests/push_service.py).
        verifying = time.perf_counter()
        held = service.verify()
        verify_s = time.perf_counter() - verifying

    total = len(subscriptions)
    result = {
        "database": "postgresql" if args.postgres else "sqlite",
        "subscriptions": total,
        "concurrency": args.concurrency,
        "client": args.client,
        "senders": args.senders,
        "fan_out_s": round(fanned - started, 3),
        "send_s": round(ended - fanned, 3),
        "messages_per_s": round(stats.sent / (ended - started), 1),
        "send_messages_per_s": round(stats.sent / (ended - fanned), 1),
        "crypto_only_per_s": round(crypto_rate, 1),
        "ratio": round(stats.sent / (ended - started) / crypto_rate, 3),
        "vapid_sign_ms": round(sign_ms, 2),
        "sender_cpu_ms_per_message": round((cpu_ended - cpu_started) * 1000 / max(stats.sent, 1), 3),
        "crypto_cpu_ms_per_message": round(crypto_cpu * 1000, 3),
        "service_cpu_ms_per_message": round((service_cpu_ended - service_cpu_started) * 1000 / max(stats.sent, 1), 3),
        "load_average": round(os.getloadavg()[0], 2),
        "machine_busy_s": round(machine_ended[0] - machine_started[0], 2),
        "machine_idle_s": round(machine_ended[1] - machine_started[1], 2),
        "ours_s": round(cpu_ended - cpu_started + service_cpu_ended - service_cpu_started, 2),
        "sent": stats.sent, "retried": stats.retried, "failed": stats.failed, "expired": stats.expired,
        "deliveries": counts, "resent": attempts,
        "verify_s": round(verify_s, 2),
        "sender_wall_s": [round(w, 2) for w in sender_walls],
        "push_service": {k: held[k] for k in ("requests", "delivered", "errors", "error_samples", "devices_with_messages",
                                              "max_messages_per_device", "distinct_tokens", "token_checks",
                                              "decrypt_every", "decrypted", "awaiting_decryption")},
    }
    # Exactly once: every delivery sent, every device holds one message, and the push service accepted no
    # more messages than there are deliveries (nothing was sent twice, by one sender or by two).
    # And every request's body was decrypted with its device's keys, before its answer or after the run.
    ok = (stats.sent == total and counts["sent"] == total and held["errors"] == 0 and held["delivered"] == total
          and held["devices_with_messages"] == total and held["max_messages_per_device"] == 1
          and held["decrypted"] == held["requests"] == total and held["awaiting_decryption"] == 0)
    result["ok"] = ok
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(int(os.environ.get("PROFILE_LINES", "25")))
        result["profile"] = out.getvalue()
    return result


def report(result: dict) -> None:
    print(f"push fan-out on {result['database']}: {result['subscriptions']:,} subscriptions, "
          f"concurrency {result['concurrency']}, {result['client']} client, {result['senders']} sender process(es)")
    print(f"  fan-out (notices + deliveries)  {result['fan_out_s']:8.2f} s")
    print(f"  send (claim, encrypt, POST, record) {result['send_s']:4.2f} s  {result['send_messages_per_s']:10,.0f} messages/s")
    print(f"  end to end                      {result['fan_out_s'] + result['send_s']:8.2f} s  "
          f"{result['messages_per_s']:10,.0f} messages/s   (target >= 2,000)")
    print(f"  crypto only (encrypt + header)               {result['crypto_only_per_s']:10,.0f} messages/s")
    print(f"  end to end / crypto only                     {result['ratio']:10.2f}")
    print(f"  one VAPID signature                          {result['vapid_sign_ms']:10.2f} ms")
    print(f"  CPU per message: sender {result['sender_cpu_ms_per_message']:.3f} ms (of which crypto "
          f"{result['crypto_cpu_ms_per_message']:.3f} ms), fake push service {result['service_cpu_ms_per_message']:.3f} ms")
    if result["sender_wall_s"]:
        print(f"  each sender process's round took {', '.join(f'{w:.2f}' for w in result['sender_wall_s'])} s")
    print(f"  machine load average (1 min) at the end: {result['load_average']} on {os.cpu_count()} CPUs")
    others = result["machine_busy_s"] - result["ours_s"]
    print(f"  CPU seconds during fan-out + send: ours (sender(s) + push service) {result['ours_s']:.1f}, database server "
          f"and every other process {others:.1f}, idle {result['machine_idle_s']:.1f}")
    print(f"  outcomes: sent {result['sent']}, retried {result['retried']}, failed {result['failed']}, "
          f"expired {result['expired']}; deliveries {result['deliveries']}")
    held = result["push_service"]
    print(f"  push service: {held}")
    sample = ("every message before answering" if held["decrypt_every"] == 1 else
              f"every {held['decrypt_every']}th message before answering, the rest after the run ({result['verify_s']:.1f} s)")
    print(f"  push service checked every request's headers and VAPID JWT ({held['token_checks']} ES256 verification(s) "
          f"for {held['distinct_tokens']} distinct token(s)); decrypted {sample}: {held['decrypted']} of {held['requests']}")
    print(f"  {'OK' if result['ok'] else 'MISMATCH'}: every device holds the message exactly once, every delivery is sent,"
          f" every message decrypts")
    if "profile" in result:
        print(result["profile"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--devices-each", type=int, default=2, help="subscriptions per member")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--client", choices=("httpx", "aiohttp"), default="aiohttp",
                        help="aiohttp: the client app/push_sender.py gives the sender; httpx: for comparison")
    parser.add_argument("--senders", type=int, default=2,
                        help="sender processes sharing the deliveries, as SAQ workers do: one per CPU of the 2-core "
                             "machine of the target (1: in this process, as the embedded sender)")
    parser.add_argument("--sender-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--postgres", action="store_true", help="a fresh PostgreSQL database instead of SQLite")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--decrypt-every", type=int, default=50,
                        help="the push service decrypts every Nth message before answering and the others after the "
                             "run (1: all before answering)")
    parser.add_argument("--profile", action="store_true", help="cProfile the send phase")
    parser.add_argument("--no-uvloop", action="store_true", help="the default asyncio loop instead of uvloop")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.profile and args.senders != 1:
        parser.error("--profile profiles the sender in this process: use it with --senders 1")
    if not args.no_uvloop:
        try:
            import uvloop  # what uvicorn runs the app (and so the embedded sender) on

            uvloop.install()
        except ImportError:
            pass
    if args.sender_child:
        asyncio.run(sender_child(args))
        return 0

    with tempfile.TemporaryDirectory(prefix="tsunagu-bench-push-") as tmp:
        work_dir = Path(tmp)
        if args.postgres:
            name = f"tsunagu_bench_push_{os.getpid()}"
            base = args.admin_url.rsplit("/", 1)[0]
            database_url = f"{base}/{name}"
            asyncio.run(_admin(args.admin_url, f"CREATE DATABASE {name}"))
        else:
            database_url = f"sqlite:///{work_dir / 'bench.sqlite3'}"
        try:
            migrate(database_url, work_dir)
            os.environ["DATABASE_URL"] = database_url
            result = asyncio.run(run(args, database_url, work_dir))
        finally:
            if args.postgres:
                asyncio.run(_admin(args.admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        report(result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
