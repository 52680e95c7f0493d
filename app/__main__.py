"""Command line: `python -m app serve | demo | admin | worker | export <file.zip> | restore <file.zip>`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from app.settings import Settings
from db.engine import bind, make_engine


def run_demo(settings: Settings) -> None:
    from app.demo import load_demo_data

    bind(make_engine(settings.database_url))
    created = asyncio.run(load_demo_data(settings.var_dir))
    print("demo data: " + ", ".join(f"{name} +{count}" for name, count in created.items()))


def run_admin(settings: Settings) -> None:
    """The very first admin: an invitation link for the staff role, printed here. No default account exists."""
    import qrcode

    from app.services.membership.one_time_links import create_invitation

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


def run_export(settings: Settings, path: str) -> int:
    """The handover archive: every table and every upload in one ZIP (README: "Handover")."""
    from app.services.handover.export import export_archive

    bind(make_engine(settings.database_url))
    try:
        summary = asyncio.run(export_archive(Path(path), settings.var_dir, actor_id=None, via="command line"))
    except OSError as error:  # a folder that does not exist, a full disk: say so without a traceback
        print(f"could not write {path}: {error.strerror or error}", file=sys.stderr)
        return 1
    print(f"{summary.path}: {sum(summary.rows.values())} rows in {len(summary.rows)} tables, {summary.uploads} uploads")
    return 0


def run_restore(settings: Settings, path: str) -> int:
    """A handover archive into this installation's empty, migrated database; refuses with the reason otherwise."""
    from app.i18n import current_locale
    from app.services.handover.restore import HandoverRefused, restore_archive

    current_locale.set(settings.default_locale)
    bind(make_engine(settings.database_url))
    try:
        summary = asyncio.run(restore_archive(Path(path), settings.var_dir, settings.restore_limits))
    except HandoverRefused as refused:
        print(refused.message, file=sys.stderr)
        return 1
    print(f"restored {sum(summary.rows.values())} rows in {len(summary.rows)} tables and {summary.uploads} uploads "
          f"from {summary.manifest.get('created_at')} (Tsunagu {summary.manifest.get('app_version')})")
    return 0


def run_server(settings: Settings, host: str, port: int, workers: int) -> None:
    import uvicorn

    print(f"Tsunagu is running at {settings.base_url}  (stop with Ctrl+C)", flush=True)
    uvicorn.run(
        "app.asgi:app",
        host=host,
        port=port,
        workers=workers,
        # The app reads X-Forwarded-For itself, and only from TRUSTED_PROXIES (app/rate_limit.py): uvicorn's own
        # reading would trust any local peer and hand the app an address a client may have written.
        proxy_headers=False,
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
    export_cmd = commands.add_parser("export", help="write every table and upload to a ZIP for handover")
    export_cmd.add_argument("file", help="the .zip to write")
    restore_cmd = commands.add_parser("restore", help="restore a handover ZIP into an empty, migrated database")
    restore_cmd.add_argument("file", help="the .zip made by export")
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
    elif args.command == "export":
        return run_export(settings, args.file)
    elif args.command == "restore":
        return run_restore(settings, args.file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
