"""Command line: `python -m app serve | demo`."""

from __future__ import annotations

import argparse
import asyncio
import sys

from app.settings import Settings
from db.engine import bind, make_engine


def run_demo(settings: Settings) -> None:
    from app.demo import load_demo_data

    bind(make_engine(settings.database_url))
    created = asyncio.run(load_demo_data())
    print("demo data: " + ", ".join(f"{name} +{count}" for name, count in created.items()))


def run_admin(settings: Settings) -> None:
    """The very first admin: an invitation link for the staff role, printed here. No default account exists."""
    import qrcode

    from app.services.one_time_links import create_invitation

    bind(make_engine(settings.database_url))
    token = asyncio.run(create_invitation("staff", created_by=None, note="command line"))
    from app.main import create_app

    link = settings.base_url + create_app(settings).route_reverse("get_invitation", token=token)
    qr = qrcode.QRCode(border=1)
    qr.add_data(link)
    qr.print_ascii(invert=True)
    print(f"\nOpen this link to register the administrator's passkey (single use, 7 days):\n{link}")


def run_worker(settings: Settings, concurrency: int) -> None:
    """A push sender process for a scaled-out installation (needs REDIS_URL)."""
    import signal

    from app.push_sender import worker

    if not settings.redis_url:
        print("python -m app worker needs REDIS_URL; without it the app process sends push itself.")
        raise SystemExit(2)
    process = worker(settings, concurrency)
    loop = asyncio.new_event_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: loop.create_task(process.stop()))
    loop.run_until_complete(process.start())


def run_server(settings: Settings, host: str, port: int, workers: int) -> None:
    import uvicorn

    print(f"Tsunagu is running at {settings.base_url}  (stop with Ctrl+C)", flush=True)
    uvicorn.run(
        "app.asgi:app",
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_level="warning",
        access_log=False,  # the app's own access log is one readable line per request
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description="Tsunagu")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the app")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    commands.add_parser("demo", help="load demo data (idempotent)")
    commands.add_parser("admin", help="print a one-time link that makes a staff (admin) account")
    worker_cmd = commands.add_parser("worker", help="send push notifications from the Redis queue (scaled out)")
    worker_cmd.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    if args.command == "serve":
        run_server(settings, args.host, args.port, args.workers)
    elif args.command == "demo":
        run_demo(settings)
    elif args.command == "admin":
        run_admin(settings)
    elif args.command == "worker":
        run_worker(settings, args.concurrency)
    return 0


if __name__ == "__main__":
    sys.exit(main())
