"""Page versions: a number per account that changes whenever anything its member pages show changes, and one
number for what every member's pages share (account 0). The front layer keeps a member's page (app/page_cache.py)
with the two numbers it was rendered under and serves it again only while both are unchanged, which one indexed
read tells (app/services/membership/login_sessions.py), so a kept page is never older than the data.

The numbers are kept by triggers in the database, not by the services: a write that forgot to say what it changed
would leave a page showing the old data, and a trigger cannot be forgotten. Every table is classified below; a table
nobody classified fails tests/test_page_versions.py, and so does a kept page that reads an unclassified table.

- ACCOUNT_PATHS: rows that belong to one account's pages. The path is the foreign keys to follow from the row to
  the column holding the account's id (the last name), e.g. a redemption's wallet pass, its member, its account.
- SHARED: rows every member's pages may show (programs, passes, shops, areas): a change moves account 0.
- UNSEEN: rows no kept page reads (counters, logs, staff-only work): a change moves nothing.

A migration installs the triggers with a frozen copy of the classification of its day, so changing it here without a
migration that installs again fails tests/test_page_versions.py, which compares the database with this module.

On PostgreSQL the triggers run once per statement with the rows it changed (transition tables), so a notification
reaching 50,000 members adds one statement, and the accounts are counted in id order, the same order in every
transaction, which two bulk writes cannot deadlock on. SQLite has only per-row triggers; it writes one
statement at a time anyway.
"""

from __future__ import annotations

from collections.abc import Iterable

TABLE = "page_version"
SHARED_ACCOUNT = 0  # the row whose number moves with what every member's pages share

ACCOUNT_PATHS: dict[str, tuple[str, ...]] = {
    "account": ("id",),
    "area_follow": ("member", "account"),
    "application": ("member", "account"),
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

SHARED = frozenset({
    "activity", "area", "article", "campaign", "notification", "offer", "pass", "pass_offer", "portal_block",
    "program", "revision", "shop", "survey", "survey_question", "travel_subsidy", "upload",
})

UNSEEN = frozenset({
    # counters and logs, written on every request or message (a device's last delivery too: no kept page lists devices)
    "audit_log", "auth_challenge", "campaign_visit", "delivery", "line_delivery", "outbox_mail", "page_view",
    "page_view_seen", "push_subscription", "rate_count",
    # the secretariat's and editors' own work, on staff pages only
    "budget", "diary_entry", "erased_identity", "incident", "invitation", "journey_rule", "kpi_target",
    "reply_template", "report_section", "spending",
})

EVENTS = ("INSERT", "UPDATE", "DELETE")


def classified() -> set[str]:
    return set(ACCOUNT_PATHS) | SHARED | UNSEEN


def accounts_of(row: str, path: tuple[str, ...], references: dict[tuple[str, str], str], table: str) -> str:
    """A SELECT of the account ids of `table`'s changed rows: `row` is a transition table (PostgreSQL) or SQLite's
    NEW or OLD, and `path` is followed through `references` ({(table, foreign key column): referenced table})."""
    first = path[0]
    source = row if row.endswith("_rows") else f'(SELECT {row}."{first}" AS "{first}")'
    joins, alias, source_table = "", "r", table
    for step, hop in enumerate(path[:-1]):
        target = references[(source_table, hop)]
        joins += f' JOIN "{target}" AS j{step} ON j{step}.id = {alias}."{hop}"'
        alias, source_table = f"j{step}", target
    return f'SELECT {alias}."{path[-1]}" AS account FROM {source} AS r{joins}'


def _bump(accounts: str) -> str:
    return (f"INSERT INTO {TABLE} (account_id, version) SELECT DISTINCT account, 1 FROM ({accounts}) AS changed "
            f"WHERE account IS NOT NULL ORDER BY account "
            f"ON CONFLICT (account_id) DO UPDATE SET version = {TABLE}.version + 1")


# The rows a trigger sees for each event: SQLite's NEW and OLD, one row at a time; PostgreSQL's transition tables.
CHANGED = {"INSERT": ("new",), "UPDATE": ("old", "new"), "DELETE": ("old",)}


def _bump_for(table: str, path: tuple[str, ...] | None, rows: list[str], references: dict[tuple[str, str], str]) -> str:
    if path is not None:
        return _bump(" UNION ".join(accounts_of(row, path, references, table) for row in rows))
    # A statement (PostgreSQL) may have changed no row of a shared table; a row trigger (SQLite) always has one.
    changed = f" AND EXISTS (SELECT 1 FROM {rows[-1]})" if rows[-1].endswith("_rows") else ""
    return f"UPDATE {TABLE} SET version = version + 1 WHERE account_id = {SHARED_ACCOUNT}{changed}"


def _sqlite_trigger(table: str, path: tuple[str, ...] | None, event: str, references: dict[tuple[str, str], str]) -> str:
    body = _bump_for(table, path, [row.upper() for row in CHANGED[event]], references)
    return f'CREATE TRIGGER {TABLE}_{table}_{event.lower()} AFTER {event} ON "{table}" FOR EACH ROW BEGIN {body}; END'


def _postgres_function(table: str, path: tuple[str, ...] | None, references: dict[tuple[str, str], str]) -> str:
    branches = [f"IF TG_OP = '{event}' THEN {_bump_for(table, path, [f'{row}_rows' for row in CHANGED[event]], references)}; END IF;"
                for event in EVENTS]
    return (f"CREATE OR REPLACE FUNCTION {TABLE}_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            + " ".join(branches) + " RETURN NULL; END $$")


def _postgres_triggers(table: str) -> list[str]:
    referencing = {"INSERT": "NEW TABLE AS new_rows", "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
                   "DELETE": "OLD TABLE AS old_rows"}
    return [f'CREATE TRIGGER {TABLE}_{table}_{event.lower()} AFTER {event} ON "{table}" REFERENCING {referencing[event]} '
            f"FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_{table}()" for event in EVENTS]


def install(engine_type: str, tables: Iterable[str], references: dict[tuple[str, str], str],
            account_paths: dict[str, tuple[str, ...]] = ACCOUNT_PATHS, shared: Iterable[str] = SHARED) -> list[str]:
    """The statements that make the table and the triggers of `tables` as classified (a migration passes the
    classification of its day, frozen), after dropping any made before: a later migration runs this again when a
    table is added or classified otherwise, and tests/test_page_versions.py compares the database with this."""
    shared = set(shared)
    watched = sorted(set(tables) & (set(account_paths) | shared))
    statements = drop(engine_type, tables, keep_table=True)
    statements += [
        f"CREATE TABLE IF NOT EXISTS {TABLE} (account_id INTEGER PRIMARY KEY, version BIGINT NOT NULL)",
        f"INSERT INTO {TABLE} (account_id, version) VALUES ({SHARED_ACCOUNT}, 1) ON CONFLICT (account_id) DO NOTHING",
    ]
    for table in watched:
        path = None if table in shared else account_paths[table]
        if engine_type == "postgres":
            statements.append(_postgres_function(table, path, references))
            statements += _postgres_triggers(table)
        else:
            statements += [_sqlite_trigger(table, path, event, references) for event in EVENTS]
    return statements


def drop(engine_type: str, tables: Iterable[str], keep_table: bool = False) -> list[str]:
    statements = []
    for table in sorted(tables):
        statements += [f'DROP TRIGGER IF EXISTS {TABLE}_{table}_{event.lower()}'
                       + (f' ON "{table}"' if engine_type == "postgres" else "") for event in EVENTS]
        if engine_type == "postgres":
            statements.append(f"DROP FUNCTION IF EXISTS {TABLE}_{table}()")
    return statements if keep_table else statements + [f"DROP TABLE IF EXISTS {TABLE}"]


def references_of(table_classes: Iterable) -> dict[tuple[str, str], str]:
    """{(table, foreign key column): referenced table} of Piccolo's table classes."""
    return {(table._meta.tablename, column._meta.db_column_name): column._foreign_key_meta.resolved_references._meta.tablename
            for table in table_classes for column in table._meta.foreign_key_columns}


EXISTING_TABLES = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table'",
    "postgres": "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()",
}
