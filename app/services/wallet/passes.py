"""The secretariat's entry passes: the pass form, the offers a pass includes (changed with it, in one
transaction), and the passes with how many offers and activations each has."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from app.i18n import gettext as _
from app.services.shared.refusals import FormInvalid
from app.services.wallet.admin_forms import LONG_TEXT_MAX, NAME_MAX, all_values, block, check_length, flag, line, whole_number
from db.engine import atomic, row_ids
from db.tables import Offer, Pass, PassOffer, Shop, WalletPass

VALIDITY_DAYS_MAX = 366


@dataclass
class PassValues:
    name: str = ""
    description: str = ""
    validity_days: int | str = 30
    outside_residents_only: bool = True
    requires_stay: bool = False
    premium_only: bool = False
    active: bool = True
    offer_ids: list[int] = field(default_factory=list)

    def row(self) -> dict:
        values = asdict(self)
        values.pop("offer_ids")
        return values


async def parse_pass(form: dict) -> PassValues:
    days_text = line(form.get("validity_days"))
    values = PassValues(
        name=line(form.get("name")),
        description=block(form.get("description")),
        validity_days=days_text,
        outside_residents_only=flag(form.get("outside_residents_only")),
        requires_stay=flag(form.get("requires_stay")),
        premium_only=flag(form.get("premium_only")),
        active=flag(form.get("active")),
    )
    errors: dict[str, str] = {}
    if not values.name:
        errors["name"] = _("Enter the pass's name.")
    check_length(errors, "name", values.name, NAME_MAX)
    check_length(errors, "description", values.description, LONG_TEXT_MAX)
    days = whole_number(days_text, 1, VALIDITY_DAYS_MAX)
    if days is None:
        errors["validity_days"] = _("Enter a number of days from %(low)d to %(high)d.", low=1, high=VALIDITY_DAYS_MAX)
    wanted = row_ids(all_values(form.get("offers")))
    if wanted is None:
        errors["offers"] = _("Choose from the list.")
    else:
        values.offer_ids = wanted
        if wanted and len(await Offer.select(Offer.id).where(Offer.id.is_in(wanted))) != len(wanted):
            errors["offers"] = _("Choose from the list.")
    if errors:
        raise FormInvalid(errors, values)
    values.validity_days = days
    return values


async def _replace_pass_offers(pass_id: int, offer_ids: list[int]) -> None:
    await PassOffer.delete().where(PassOffer.entry_pass == pass_id)
    if offer_ids:
        await PassOffer.insert(*[PassOffer(entry_pass=pass_id, offer=offer_id) for offer_id in offer_ids])


async def create_pass(values: PassValues) -> int:
    async with atomic(Pass._meta.db):
        rows = await Pass.insert(Pass(**values.row())).returning(Pass.id)
        pass_id = rows[0]["id"]
        await _replace_pass_offers(pass_id, values.offer_ids)
    return pass_id


async def update_pass(pass_id: int, values: PassValues) -> bool:
    """The pass and the offers it includes change together or not at all."""
    async with atomic(Pass._meta.db):
        rows = await Pass.update(values.row()).where(Pass.id == pass_id).returning(Pass.id)
        if not rows:
            return False
        await _replace_pass_offers(pass_id, values.offer_ids)
    return True


async def get_pass(pass_id: int) -> dict | None:
    return await Pass.select().where(Pass.id == pass_id).first()


async def pass_values(pass_id: int) -> PassValues | None:
    row = await get_pass(pass_id)
    if row is None:
        return None
    offers = await PassOffer.select(PassOffer.offer).where(PassOffer.entry_pass == pass_id)
    fields = {name: row[name] for name in PassValues.__dataclass_fields__ if name != "offer_ids"}
    return PassValues(**fields, offer_ids=sorted(o["offer"] for o in offers))


async def list_passes() -> list[dict]:
    passes = await Pass.select().order_by(Pass.active, ascending=False).order_by(Pass.id)
    links = await PassOffer.select(PassOffer.entry_pass)
    wallets = await WalletPass.select(WalletPass.entry_pass)
    for entry_pass in passes:
        entry_pass["offer_count"] = sum(1 for link in links if link["entry_pass"] == entry_pass["id"])
        entry_pass["activation_count"] = sum(1 for w in wallets if w["entry_pass"] == entry_pass["id"])
    return passes


async def offer_choices() -> list[dict]:
    """Every offer, grouped by shop, for the pass form's checkboxes (inactive ones marked, not hidden)."""
    shops = await Shop.select(Shop.id, Shop.name, Shop.category, Shop.active).order_by(Shop.name).order_by(Shop.id)
    offers = await Offer.select(
        Offer.id, Offer.shop, Offer.title, Offer.active, Offer.premium_only, Offer.limit_kind, Offer.limit_count,
    ).order_by(Offer.position).order_by(Offer.id)
    groups = []
    for shop in shops:
        mine = [o for o in offers if o["shop"] == shop["id"]]
        if mine:
            groups.append({**shop, "offers": mine})
    return groups
