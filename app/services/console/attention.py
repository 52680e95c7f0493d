"""What waits for the secretariat, counted for the console's navigation beside every staff page.

Each count has a key that a menu item names (app/routes/console/nav.py); a new queue adds one line here and
one item there.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from piccolo.query import Count as CountQuery
from piccolo.querystring import QueryString

from app.services.desk import inbox
from app.services.premium import applications as premium_applications
from app.services.review import moderation
from app.services.secretariat import incidents
from app.services.subsidy import review as travel_claims
from app.services.wallet import conflicts
from db.tables import Account

# Each queue's count is a query its domain writes (a Piccolo count, the number when awaited on its own), or the
# parts of one to add up.
COUNTERS: dict[str, Callable[[], CountQuery | list[CountQuery]]] = {
    "review": moderation.pending_counts,  # programs, articles and changes to public ones
    "premium": premium_applications.waiting_count,
    "inquiries": inbox.new_count,  # nobody has opened them yet
    "conflicts": conflicts.open_count,  # counter uses allowed offline that could not be counted
    "incidents": incidents.open_count,  # trouble not yet closed
    "claims": travel_claims.waiting_count,  # travel-subsidy claims waiting for a check
}


@cache
def _statement(engine_type: str) -> tuple[str, tuple[QueryString, ...]]:
    """The counts as one statement, each a subquery; built once per process and database (Piccolo takes 0.8 ms to
    build the nine, and none of them changes)."""
    columns, subqueries = [], []
    for key, counter in COUNTERS.items():
        parts = made if isinstance(made := counter(), list) else [made]
        columns.append(" + ".join(["({})"] * len(parts)) + f' AS "{key}"')
        subqueries += [part.querystrings[0] for part in parts]
    return "SELECT " + ", ".join(columns), tuple(subqueries)


async def counts() -> dict[str, int]:
    """How many wait in each queue, by the keys of `COUNTERS`. Every staff page shows them beside its menu, so
    they go to the database as one statement: one round trip where there were nine."""
    sql, subqueries = _statement(Account._meta.db.engine_type)
    row = (await Account.raw(sql, *subqueries))[0]  # any table's raw query: the statement names its own tables
    return {key: int(row[key]) for key in COUNTERS}
