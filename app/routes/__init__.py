"""Every route module's handlers, in one list for create_app."""

from app.routes import account, auth, card, invite, passkeys, portal, pwa, recover, register, staff, system

MODULES = (portal, pwa, system, auth, passkeys, register, recover, invite, account, card, staff)

ROUTE_HANDLERS = [handler for module in MODULES for handler in module.handlers]
