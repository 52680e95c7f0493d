"""Handover (引き継ぎ): the secretariat downloads the whole installation as one ZIP — every table as CSV
and every uploaded file — to keep or to move to a new installation (README: "Handover")."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.background_tasks import BackgroundTask
from litestar.response import File

from app import guards
from app.auth import current_account
from app.rendering import page
from app.services.handover import export
from app.services.shared import clock
from app.settings import Settings


@get("/staff/handover", name="get_handover", guards=[guards.staff], cache_control=None)
async def get_handover(request: Request) -> object:
    settings: Settings = request.app.state.settings
    summary = await export.overview(settings.var_dir)
    context = {"overview": summary, "total_rows": sum(summary.rows.values()),
               "upload_mb": round(summary.upload_bytes / (1024 * 1024), 1)}
    return page(request, "handover/index.html", context, cache="no-store")


@post("/staff/handover/export", name="export_handover", guards=[guards.staff], status_code=200)
async def export_handover(request: Request) -> File:
    """Written to a file under var/ first (the tables are read in one transaction), sent, then deleted."""
    settings: Settings = request.app.state.settings
    now = clock.now()
    path = export.download_path(settings.var_dir, now)
    await export.export_archive(path, settings.var_dir, current_account(request).id, via="web")
    return File(
        path, filename=export.archive_name(now), media_type="application/zip",
        headers={"Cache-Control": "no-store"},
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


handlers = [get_handover, export_handover]
