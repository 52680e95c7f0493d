"""A redemption at the counter as one SQL statement: every rule checked and the row inserted together.

Why this is SQL and not Piccolo queries (issue #17, measured with bench/redeem.py):
- A scan used to take eight queries (the nonce, the wallet pass with its member, account and pass, the offer
  with its shop, the pass's offers twice, then the insert), each a round trip to the database, and building
  Piccolo's joined selects cost about a millisecond of CPU each: the counter's server spent more time
  writing SQL than PostgreSQL spent running it.
- Here the checks and the insert are one statement on PostgreSQL, so one round trip: `decided` says why the
  offer cannot be used now (or ''), and the insert takes its rows `WHERE reason = ''`, so nothing is inserted
  unless every rule holds in the same snapshot. Exactly once is still the unique indexes, not the check:
  `ON CONFLICT DO NOTHING` covers both `redemption_limit` (wallet pass, offer, limit key, slot) and
  `redemption_nonce` (account, nonce); a scan that lost a race or is a retry inserts nothing, and
  redemption.redeem then answers from the nonce or runs the statement again for the next free slot.
- SQLite has no INSERT inside WITH, so there the same `decided` is read first and then the same insert runs:
  two statements, with the insert still checking every rule itself. Both forms are built below from the same
  text, and the wallet tests run on both databases.
- The reasons come in the order redemption.pass_problem and redemption.offer_problem give them (the scanner's
  preview still uses those): a test holds the preview and this statement to the same answers.

The other half of the round trips was the pool: asyncpg resets every connection given back to it
(`pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`), one more round trip per query. See
db.engine.keep_session for why the app skips that.

Parameters are written `:name` here and become Piccolo's positional `{}` (then `$n` or `?`); PostgreSQL infers
each one's type from where it stands, so every parameter stands where its type is plain.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from db.engine import fetch, writes_inside_with
from db.tables import Redemption

# One row per scan of a wallet pass: the pass and the member behind it, the offer asked for (NULL when there
# is no such offer), and the first reason it cannot be used now.
_SCAN = """
scan AS (
  SELECT wp.id AS wallet_pass, o.id AS offer, m.home_prefecture AS home_prefecture,
         a.display_name AS display_name, o.title AS offer_title, o.limit_kind AS limit_kind,
         CASE o.limit_kind WHEN 'once' THEN 'once' WHEN 'per_day' THEN :today_key ELSE :fresh_key END AS limit_key,
         CASE WHEN o.limit_kind = 'per_day' AND o.limit_count > 1 THEN o.limit_count ELSE 1 END AS slots,
         CASE
           WHEN a.status <> 'active' THEN 'unknown'
           WHEN wp.status = 'revoked' THEN 'revoked'
           WHEN wp.status = 'suspended' THEN 'suspended'
           WHEN wp.expires_at <= :now THEN 'expired'
           WHEN p.requires_stay AND wp.stay_from IS NOT NULL AND wp.stay_from > :today THEN 'before_stay'
           WHEN p.requires_stay AND wp.stay_to IS NOT NULL AND wp.stay_to < :today THEN 'after_stay'
           WHEN o.id IS NULL THEN 'not_in_pass'
           WHEN o.shop <> :shop THEN 'wrong_shop'
           WHEN NOT s.active THEN 'offer_unavailable'
           WHEN NOT EXISTS (SELECT 1 FROM pass_offer po WHERE po.entry_pass = wp.entry_pass AND po.offer = o.id)
             THEN 'not_in_pass'
           WHEN NOT o.active OR o.valid_from > :today OR o.valid_to < :today THEN 'offer_unavailable'
           WHEN o.premium_only
             AND NOT (m.tier = 'premium' AND m.premium_until IS NOT NULL AND m.premium_until >= :today)
             THEN 'premium_only'
           ELSE ''
         END AS refusal
  FROM wallet_pass wp
  JOIN member m ON m.id = wp.member
  JOIN account a ON a.id = m.account
  JOIN pass p ON p.id = wp.entry_pass
  LEFT JOIN offer o ON o.id = :offer
  LEFT JOIN shop s ON s.id = o.shop
  WHERE {wallet_pass}
),
free AS (
  SELECT scan.*,
         CASE
           WHEN scan.refusal <> '' THEN NULL
           WHEN NOT EXISTS (SELECT 1 FROM redemption r WHERE r.wallet_pass = scan.wallet_pass
                            AND r.offer = scan.offer AND r.limit_key = scan.limit_key AND r.slot = 1) THEN 1
           ELSE (SELECT MIN(r.slot) + 1 FROM redemption r WHERE r.wallet_pass = scan.wallet_pass
                 AND r.offer = scan.offer AND r.limit_key = scan.limit_key
                 AND NOT EXISTS (SELECT 1 FROM redemption n WHERE n.wallet_pass = r.wallet_pass AND n.offer = r.offer
                                 AND n.limit_key = r.limit_key AND n.slot = r.slot + 1))
         END AS slot
  FROM scan
),
decided AS (
  SELECT free.*,
         CASE
           WHEN free.refusal <> '' THEN free.refusal
           WHEN free.slot > free.slots THEN
             CASE free.limit_kind WHEN 'per_day' THEN 'already_used_today' ELSE 'already_used' END
           ELSE ''
         END AS reason
  FROM free
)"""

_INSERT = """
INSERT INTO redemption (wallet_pass, offer, shop, limit_key, slot, scanned_by, client_nonce, home_prefecture,
                        redeemed_at, offline)
SELECT wallet_pass, offer, :shop, limit_key, slot, :account, :nonce, home_prefecture, :now, (:offline = 1)
FROM decided WHERE reason = ''
ON CONFLICT DO NOTHING
RETURNING id"""

_FACTS = "reason, offer_title, display_name, wallet_pass"

BY_ID = "wp.id = :wallet_pass_id"
BY_SHORT_CODE = "wp.short_code = :short_code"

# PostgreSQL: the checks, the insert and the answer in one statement.
_ONE_STATEMENT = (f"WITH {_SCAN},\ninserted AS ({_INSERT}\n)\n"
                  f"SELECT {_FACTS}, (SELECT id FROM inserted) AS redemption_id FROM decided")
# SQLite: the answer, then the insert (which checks the same rules again itself).
_FACTS_ONLY = f"WITH {_SCAN}\nSELECT {_FACTS} FROM decided"
_INSERT_ONLY = f"WITH {_SCAN}{_INSERT}"

_NAME = re.compile(r":([a-z_]+)")


def _positional(sql: str, values: dict) -> tuple[str, list]:
    """`:name` -> Piccolo's `{}`, with the values in order (a name used twice is passed twice)."""
    args: list = []

    def take(match: re.Match) -> str:
        args.append(values[match.group(1)])
        return "{}"
    return _NAME.sub(take, sql), args


async def redeem_once(*, by_short_code: bool, wallet_pass: int | str, offer_id: int, shop_id: int,
                      account_id: int, nonce: str, now: datetime, today: date, fresh_key: str,
                      offline: bool = False) -> dict | None:
    """Check every rule and insert the use if they hold: {reason, offer_title, display_name, wallet_pass,
    redemption_id}.

    None: no such wallet pass. reason '' with redemption_id None: nothing was inserted although the rules held
    (a retry of this nonce, or another scan took the slot in between). `fresh_key` is the limit key an
    unlimited offer's use gets (its own; see redemption.limit_of). `offline`: the counter decided it with no
    network and `now` is the time of its scan."""
    where = BY_SHORT_CODE if by_short_code else BY_ID
    values = {"today_key": today.isoformat(), "fresh_key": fresh_key, "now": now, "today": today, "shop": shop_id,
              "offer": offer_id, "account": account_id, "nonce": nonce, "offline": int(offline),
              "short_code" if by_short_code else "wallet_pass_id": wallet_pass}
    if writes_inside_with(Redemption):
        sql, args = _positional(_ONE_STATEMENT.replace("{wallet_pass}", where), values)
        rows = await fetch(Redemption, sql, *args)
        return rows[0] if rows else None
    sql, args = _positional(_FACTS_ONLY.replace("{wallet_pass}", where), values)
    rows = await fetch(Redemption, sql, *args)
    if not rows:
        return None
    facts = {**rows[0], "redemption_id": None}
    if facts["reason"] == "":
        sql, args = _positional(_INSERT_ONLY.replace("{wallet_pass}", where), values)
        inserted = await fetch(Redemption, sql, *args)
        facts["redemption_id"] = inserted[0]["id"] if inserted else None
    return facts
