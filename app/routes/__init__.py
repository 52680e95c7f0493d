"""Every route module's handlers, in one list for create_app."""

from app.routes import (
    account,
    auth,
    card,
    invite,
    passkeys,
    portal,
    pwa,
    recover,
    register,
    shop,
    staff,
    staff_wallet,
    system,
    wallet,
)

MODULES = (portal, pwa, system, auth, passkeys, register, recover, invite, account, card, wallet, shop, staff, staff_wallet)

ROUTE_HANDLERS = [handler for module in MODULES for handler in module.handlers]
