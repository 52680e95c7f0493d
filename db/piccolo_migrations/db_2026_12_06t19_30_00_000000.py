"""Page versions (db/page_versions.py): the table and its triggers on every table that exists now, classified as on
this day (frozen below). A later migration that adds a table or classifies one otherwise runs `page_versions.install`
again with its own copy, which tests/test_page_versions.py asks for."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

from db import page_versions
from db.piccolo_app import APP_CONFIG

ID = "2026-12-06T19:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "page versions"

ACCOUNT_PATHS = {
    "account": ("id",),
    "application": ("member", "account"),
    "area_follow": ("member", "account"),
    "check_in": ("member", "account"),
    "conflict": ("wallet_pass", "member", "account"),
    "desk_mail": ("inquiry", "account"),
    "digest": ("member", "account"),
    "inquiry": ("account",),
    "inquiry_message": ("inquiry", "account"),
    "journey_event": ("member", "account"),
    "line_link": ("account",),
    "line_link_nonce": ("account",),
    "login_session": ("account",),
    "member": ("account",),
    "notice": ("account",),
    "one_time_token": ("account",),
    "passkey": ("account",),
    "premium_application": ("member", "account"),
    "push_preference": ("account",),
    "redemption": ("wallet_pass", "member", "account"),
    "survey_answer": ("response", "account"),
    "survey_invitation": ("account",),
    "survey_response": ("account",),
    "travel_claim": ("member", "account"),
    "wallet_pass": ("member", "account"),
}
SHARED = {
    "activity", "area", "article", "campaign", "notification", "offer", "pass", "pass_offer", "portal_block",
    "program", "revision", "shop", "survey", "survey_question", "travel_subsidy", "upload",
}


class _Raw(Table):
    pass


async def _statements(backwards: bool) -> list[str]:
    engine_type = _Raw._meta.db.engine_type
    existing = {row["name"] for row in await _Raw.raw(page_versions.EXISTING_TABLES[engine_type])}
    tables = existing & (set(ACCOUNT_PATHS) | SHARED)
    if backwards:
        return page_versions.drop(engine_type, tables)
    return page_versions.install(engine_type, tables, page_versions.references_of(APP_CONFIG.table_classes),
                                 ACCOUNT_PATHS, SHARED)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="db", description=DESCRIPTION)

    async def run():
        async with _Raw._meta.db.transaction():
            for statement in await _statements(backwards=False):
                await _Raw.raw(statement)

    async def run_backwards():
        async with _Raw._meta.db.transaction():
            for statement in await _statements(backwards=True):
                await _Raw.raw(statement)

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
