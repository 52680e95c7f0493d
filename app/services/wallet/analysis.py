"""How the entry pass is used, for the secretariat: redemptions per shop, offer, weekday and hour, home
prefecture, and activations against redemptions per pass, over a period of Tokyo dates; and the redemptions of
the period one by one, to look one up.

Figures are computed in Python over the rows of the period (SQLite and PostgreSQL differ in date
functions); undone redemptions never count. Each table can be exported as CSV that Excel opens with its
Japanese text intact (UTF-8 with a BOM); every export is written to the audit log.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from app.i18n import TOKYO, current_locale, to_tokyo
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.services.shared import exports
from app.services.shared.reference import prefecture_name
from app.services.shared.refusals import FormInvalid
from app.services.wallet.wallet import category_label
from db.tables import Conflict, Offer, Pass, Redemption, Shop, WalletPass

WEEKDAYS = (_l("Mon"), _l("Tue"), _l("Wed"), _l("Thu"), _l("Fri"), _l("Sat"), _l("Sun"))
TABLE_KEYS = ("shops", "offers", "weekday_hour", "prefectures", "passes")
FIRST_YEAR, LAST_YEAR = 2000, 2100


@dataclass(frozen=True)
class Period:
    """From `start` to `end`, both included, as dates in Tokyo."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def bounds(self) -> tuple[datetime, datetime]:
        """[from, to) in UTC: Tokyo midnight at the start, Tokyo midnight after the last day."""
        start = datetime.combine(self.start, time(0), TOKYO)
        end = datetime.combine(self.end + timedelta(days=1), time(0), TOKYO)
        return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def fiscal_year(today: date) -> Period:
    """Japan's fiscal year: April 1 to March 31."""
    first_year = today.year if today.month >= 4 else today.year - 1
    return Period(date(first_year, 4, 1), date(first_year + 1, 3, 31))


def parse_period(from_text: str, to_text: str, today: date) -> Period:
    """The period typed in the filter; an empty end falls back on this fiscal year's."""
    default = fiscal_year(today)
    from_text, to_text = (from_text or "").strip(), (to_text or "").strip()
    errors: dict[str, str] = {}
    start, end = default.start, default.end
    for name, text in (("from", from_text), ("to", to_text)):
        if not text:
            continue
        try:
            value = date.fromisoformat(text)
        except ValueError:
            value = None
        if value is None or not FIRST_YEAR <= value.year <= LAST_YEAR:
            errors[name] = _("Enter a date such as 2026-04-01.")
        elif name == "from":
            start = value
        else:
            end = value
    if not errors and end < start:
        errors["to"] = _("The last day must be on or after the first day.")
    if errors:
        raise FormInvalid(errors, {"from": from_text, "to": to_text})
    return Period(start, end)


@dataclass
class Figures:
    period: Period
    total: int
    offline: int  # of the total, uses a counter decided with no network and sent later
    conflicts: int  # uses allowed offline that could not be counted (app/services/wallet/conflicts.py)
    by_shop: list[dict]
    by_offer: list[dict]
    by_weekday_hour: list[list[int]]  # 7 rows (Monday first) × 24 hours, Tokyo time
    by_prefecture: list[dict]
    by_pass: list[dict]
    by_day: list[int]  # redemptions per Tokyo date of the period, first day first (the dashboard's trend lines)
    activations_by_day: list[int]


def _by_count(rows: list[dict], *tiebreak: str) -> list[dict]:
    return sorted(rows, key=lambda r: (-r["count"], *(r[k] for k in tiebreak)))


async def analyse(period: Period) -> Figures:
    start, end = period.bounds()
    redemptions = await Redemption.select(
        Redemption.redeemed_at, Redemption.shop, Redemption.offer, Redemption.wallet_pass, Redemption.home_prefecture,
        Redemption.offline, Redemption.wallet_pass.entry_pass.as_alias("pass_id"),
    ).where((Redemption.redeemed_at >= start) & (Redemption.redeemed_at < end) & Redemption.undone_at.is_null())
    conflicts = await Conflict.select(Conflict.shop).where(
        (Conflict.scanned_at >= start) & (Conflict.scanned_at < end))
    activations = await WalletPass.select(WalletPass.entry_pass, WalletPass.activated_at).where(
        (WalletPass.activated_at >= start) & (WalletPass.activated_at < end)
    )
    shops = await Shop.select(Shop.id, Shop.name, Shop.category, Shop.active)
    offers = await Offer.select(Offer.id, Offer.title, Offer.shop, Offer.shop.name.as_alias("shop_name"), Offer.active)
    passes = await Pass.select(Pass.id, Pass.name, Pass.active)

    per_shop = Counter(r["shop"] for r in redemptions)
    offline_per_shop = Counter(r["shop"] for r in redemptions if r["offline"])
    conflicts_per_shop = Counter(c["shop"] for c in conflicts)
    per_offer = Counter(r["offer"] for r in redemptions)
    per_prefecture = Counter(r["home_prefecture"] or "" for r in redemptions)
    per_pass = Counter(r["pass_id"] for r in redemptions)
    activations_per_pass = Counter(a["entry_pass"] for a in activations)
    wallets_used: dict[int, set[int]] = {}
    grid = [[0] * 24 for _day in range(7)]
    by_day = [0] * period.days
    for r in redemptions:
        local = to_tokyo(r["redeemed_at"])
        grid[local.weekday()][local.hour] += 1
        by_day[(local.date() - period.start).days] += 1
        wallets_used.setdefault(r["pass_id"], set()).add(r["wallet_pass"])
    activations_by_day = [0] * period.days
    for a in activations:
        activations_by_day[(to_tokyo(a["activated_at"]).date() - period.start).days] += 1

    return Figures(
        period=period,
        total=len(redemptions),
        offline=sum(offline_per_shop.values()),
        conflicts=len(conflicts),
        by_shop=_by_count([{**s, "count": per_shop[s["id"]], "offline": offline_per_shop[s["id"]],
                            "conflicts": conflicts_per_shop[s["id"]]} for s in shops], "name", "id"),
        by_offer=_by_count([{**o, "count": per_offer[o["id"]]} for o in offers], "shop_name", "title", "id"),
        by_weekday_hour=grid,
        by_prefecture=_by_count([{"code": code, "count": n} for code, n in per_prefecture.items()], "code"),
        by_pass=[
            {**p, "activations": activations_per_pass[p["id"]], "count": per_pass[p["id"]],
             "wallets_used": len(wallets_used.get(p["id"], ()))}
            for p in sorted(passes, key=lambda p: p["id"])
        ],
        by_day=by_day,
        activations_by_day=activations_by_day,
    )


async def redemptions(period: Period, shop_id: int | None = None, newest_first: bool = True, limit: int = 50,
                      offset: int = 0) -> list[dict]:
    """The period's redemptions one by one (undone ones too, marked by `undone_at`; those a counter decided with
    no network marked by `offline`), at one shop or all, `limit` from `offset`: when, where, which offer, whose
    pass."""
    start, end = period.bounds()
    query = Redemption.select(
        Redemption.id, Redemption.redeemed_at, Redemption.undone_at, Redemption.offline,
        Redemption.shop.name.as_alias("shop_name"),
        Redemption.offer.title.as_alias("offer_title"), Redemption.wallet_pass.entry_pass.name.as_alias("pass_name"),
        Redemption.wallet_pass.member.member_no.as_alias("member_no"),
    ).where((Redemption.redeemed_at >= start) & (Redemption.redeemed_at < end))
    if shop_id is not None:
        query = query.where(Redemption.shop == shop_id)
    return await query.order_by(Redemption.redeemed_at, ascending=not newest_first).order_by(
        Redemption.id, ascending=not newest_first).limit(limit).offset(offset)


@dataclass
class Table:
    """One table as shown on the page and written to CSV: the markup and the file share it."""

    key: str
    title: str
    headers: list[str]
    rows: list[list]


def _prefecture(code: str) -> str:
    return prefecture_name(code, current_locale.get()) or _("Not given")


def _inactive(name: str, active: bool) -> str:
    return name if active else _("%(name)s (inactive)", name=name)


def build_table(figures: Figures, key: str) -> Table:
    """Headers and labels in the current language."""
    if key == "shops":
        headers = [_("Shop"), _("Category"), _("Redemptions"), _("Of which offline"), _("Conflicts")]
        return Table(key, _("Redemptions per shop"), headers, [
            [_inactive(s["name"], s["active"]), category_label(s["category"]), s["count"], s["offline"], s["conflicts"]]
            for s in figures.by_shop
        ])
    if key == "offers":
        return Table(key, _("Redemptions per offer"), [_("Shop"), _("Offer"), _("Redemptions")], [
            [o["shop_name"], _inactive(o["title"], o["active"]), o["count"]] for o in figures.by_offer
        ])
    if key == "weekday_hour":
        hours = [_("%(hour)d h", hour=hour) for hour in range(24)]
        return Table(key, _("Redemptions per weekday and hour (Japan time)"), [_("Weekday"), *hours, _("Total")], [
            [str(WEEKDAYS[day]), *counts, sum(counts)] for day, counts in enumerate(figures.by_weekday_hour)
        ])
    if key == "prefectures":
        return Table(key, _("Redemptions per home prefecture of members"), [_("Home prefecture"), _("Redemptions")], [
            [_prefecture(p["code"]), p["count"]] for p in figures.by_prefecture
        ])
    if key == "passes":
        headers = [_("Pass"), _("Activations"), _("Redemptions"), _("Passes used at least once")]
        return Table(key, _("Activations and redemptions per pass"), headers, [
            [_inactive(p["name"], p["active"]), p["activations"], p["count"], p["wallets_used"]] for p in figures.by_pass
        ])
    raise KeyError(key)


def build_tables(figures: Figures) -> list[Table]:
    return [build_table(figures, key) for key in TABLE_KEYS]


def csv_text(table: Table) -> str:
    return exports.csv_text(table.headers, table.rows)


def csv_filename(key: str, period: Period) -> str:
    return f"entry-pass-{key.replace('_', '-')}-{period.start.isoformat()}-{period.end.isoformat()}.csv"


async def export_csv(actor_id: int, key: str, period: Period, now: datetime) -> tuple[str, str]:
    """(file name, CSV text) of one table, with Japanese headers; the export is audited."""
    if key not in TABLE_KEYS:
        raise KeyError(key)
    figures = await analyse(period)
    with exports.csv_language():
        table = build_table(figures, key)
    detail = {"table": key, "from": period.start.isoformat(), "to": period.end.isoformat(), "rows": len(table.rows)}
    await exports.record_export(actor_id, "wallet_analysis", key, detail, now)
    return csv_filename(key, period), csv_text(table)
