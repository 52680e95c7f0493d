"""The migrations build exactly the tables of db/tables.py: Piccolo's own auto-migration differ, run the way
`piccolo migrations new db --auto` runs it, finds nothing to add. A column, table or change made in
db/tables.py without a migration fails here. Nothing is written and no database is touched.
"""

from __future__ import annotations

import contextlib
import io

import pytest
from piccolo.apps.migrations.commands.new import AutoMigrationManager

from db.piccolo_app import APP_CONFIG


@pytest.fixture(autouse=True)
def clean_database():
    """Replaces conftest's: this test reads files only, so it neither migrates nor empties a database."""
    yield


async def test_auto_migration_finds_no_changes():
    summary = io.StringIO()
    with contextlib.redirect_stdout(summary):  # the differ prints its table of counts
        # "n" answers the differ's "did you rename …?" questions, so a rename shows as a change, not a prompt.
        alter_statements = await AutoMigrationManager(auto_input="n").get_alter_statements(app_config=APP_CONFIG)
    statements = [statement for alter in alter_statements for statement in alter.statements]
    assert not statements, (
        "db/tables.py and db/piccolo_migrations differ; add a migration "
        "(`piccolo migrations new db --auto`):\n" + "\n".join(statements) + "\n" + summary.getvalue()
    )
