"""Every route module's handlers, in one list for create_app."""

from app.routes import portal, pwa, system

ROUTE_HANDLERS = [*portal.handlers, *pwa.handlers, *system.handlers]
