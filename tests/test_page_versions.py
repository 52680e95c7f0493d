"""db/page_versions.py on both databases: every table classified, the triggers the migrations made are the ones the
classification asks for, and a write moves the versions of exactly the pages that show it."""

from __future__ import annotations

from datetime import timedelta

from app.keyfile import generate_secrets
from app.services.membership import login_sessions
from app.services.shared import clock
from app.services.shared.signed_tokens import TokenSigner
from app.services.wallet import redemption
from db import page_versions
from db.piccolo_app import APP_CONFIG
from db.tables import Account, Notice, Program, RateCount
from tests import factories

TABLES = {table._meta.tablename for table in APP_CONFIG.table_classes}
REFERENCES = page_versions.references_of(APP_CONFIG.table_classes)


async def versions(*account_ids: int) -> dict[int, int]:
    rows = await Account.raw(f"SELECT account_id, version FROM {page_versions.TABLE}")
    found = {row["account_id"]: row["version"] for row in rows}
    return {account_id: found.get(account_id, 0) for account_id in account_ids}


def test_every_table_is_classified_once():
    account, shared, unseen = set(page_versions.ACCOUNT_PATHS), page_versions.SHARED, page_versions.UNSEEN
    assert not (account & shared) and not (account & unseen) and not (shared & unseen)
    assert page_versions.classified() == TABLES, (
        "classify in db/page_versions.py, then add a migration that runs page_versions.install again: "
        f"unclassified {sorted(TABLES - page_versions.classified())}, gone {sorted(page_versions.classified() - TABLES)}")


def test_every_account_path_follows_foreign_keys_to_an_account():
    for table, path in page_versions.ACCOUNT_PATHS.items():
        source = table
        for hop in path[:-1]:
            source = REFERENCES[(source, hop)]
        last = path[-1]
        assert (source, last) == ("account", "id") or REFERENCES.get((source, last)) == "account", (table, path)


async def installed_definitions(engine_type: str) -> dict[str, str]:
    """{trigger (SQLite) or trigger function (PostgreSQL): its SQL} of the page versions, as the database holds them."""
    if engine_type == "postgres":
        rows = await Account.raw(
            "SELECT t.tgname AS name, p.prosrc AS sql FROM pg_trigger AS t JOIN pg_proc AS p ON p.oid = t.tgfoid "
            "WHERE NOT t.tgisinternal AND t.tgname LIKE 'page\\_version\\_%'")
    else:
        rows = await Account.raw("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'page\\_version\\_%' ESCAPE '\\'")
    return {row["name"]: row["sql"] for row in rows}


async def test_the_database_has_the_triggers_the_classification_asks_for():
    """Names and bodies: a table added, or a path or class changed, without a migration that installs again fails."""
    engine_type = Account._meta.db.engine_type
    installed = await installed_definitions(engine_type)
    wanted = {f"{page_versions.TABLE}_{table}_{event.lower()}"
              for table in TABLES - page_versions.UNSEEN for event in page_versions.EVENTS}
    assert set(installed) == wanted, ("a migration must run page_versions.install again: "
                                      f"missing {sorted(wanted - set(installed))}, extra {sorted(set(installed) - wanted)}")
    statements = "\n".join(page_versions.install(engine_type, TABLES, REFERENCES))
    stale = sorted(name for name, sql in installed.items() if sql.strip() not in statements)
    assert not stale, f"a migration must run page_versions.install again: {stale}"


async def test_a_members_own_rows_move_their_version_only():
    hanako, taro = await factories.member("つなぐ花子"), await factories.member("苫小牧太郎")
    before = await versions(hanako.account_id, taro.account_id, page_versions.SHARED_ACCOUNT)
    await Notice.insert(Notice(account=hanako.account_id, title="お知らせ", body="本文"))
    after = await versions(hanako.account_id, taro.account_id, page_versions.SHARED_ACCOUNT)
    assert after[hanako.account_id] > before[hanako.account_id]
    assert after[taro.account_id] == before[taro.account_id]
    assert after[page_versions.SHARED_ACCOUNT] == before[page_versions.SHARED_ACCOUNT]


async def test_a_use_at_a_shop_moves_the_version_of_the_member_whose_pass_it_was():
    hanako = await factories.member("つなぐ花子")
    shop_id, (offer_id,) = await factories.shop_with_offers("海鮮食堂 ほっき屋", {"limit_kind": "unlimited"})
    pass_id = await factories.entry_pass(offer_id)
    now = clock.now()
    wallet_pass_id, _code = await factories.wallet_pass(hanako.member_id, pass_id, now - timedelta(hours=1))
    clerk = await factories.staff_account("店員 田中", role="shop", shop=shop_id)
    signer = TokenSigner(generate_secrets()["signing_key"])
    token = signer.sign("wallet", wallet_pass_id, now + timedelta(days=1))
    before = await versions(hanako.account_id, clerk)
    await redemption.redeem(signer, token, offer_id, shop_id, clerk, "nonce-1", now)
    after = await versions(hanako.account_id, clerk)
    assert after[hanako.account_id] > before[hanako.account_id]
    assert after[clerk] == before[clerk]


async def test_shared_content_moves_the_shared_version_and_a_counter_moves_nothing():
    area = await factories.area()
    program_id = await factories.program(area)
    hanako = await factories.member("つなぐ花子")
    before = await versions(hanako.account_id, page_versions.SHARED_ACCOUNT)
    await Program.update({Program.title: "ほっき貝の浜で漁業体験(秋)"}).where(Program.id == program_id)
    moved = await versions(hanako.account_id, page_versions.SHARED_ACCOUNT)
    assert moved[page_versions.SHARED_ACCOUNT] > before[page_versions.SHARED_ACCOUNT]
    assert moved[hanako.account_id] == before[hanako.account_id]
    await RateCount.insert(RateCount(key="scan:account:1", window_ends=1, hits=1))
    await Program.update({Program.title: "変わらない"}).where(Program.id == -1)  # no row: nothing changed
    assert await versions(hanako.account_id, page_versions.SHARED_ACCOUNT) == moved


async def test_one_statement_for_many_accounts_moves_each_once_and_the_login_reads_the_versions():
    members = [await factories.member(f"会員{n}") for n in range(3)]
    accounts = [m.account_id for m in members]
    before = await versions(*accounts)
    await Notice.insert(*[Notice(account=account, title="一斉", body="本文") for account in accounts])
    after = await versions(*accounts)
    assert all(after[account] > before[account] for account in accounts)
    token = await login_sessions.start(accounts[0], "pytest")
    account = await login_sessions.resolve(token)
    shared = (await versions(page_versions.SHARED_ACCOUNT))[page_versions.SHARED_ACCOUNT]
    assert account.page_versions == ((await versions(accounts[0]))[accounts[0]], shared)
