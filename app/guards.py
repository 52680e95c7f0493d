"""Roles and scopes, checked in one place. Each guard is named for who may pass.

No account → 401 (pages turn that into a trip to the login page); the wrong role → 403.
Scopes (an editor's area, a shop's shop) are checked by the services that load the record.

The guards are `async def` though they wait on nothing: Litestar runs a plain function guard in a worker thread
(`ensure_async_callable`), one thread hop per guard on every request (the app-wide one runs on all of them): a
redemption took 1.55–1.75 ms of CPU in process with them run that way, 1.34 ms without.
"""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from app.services.membership.login_sessions import CurrentAccount
from db.engine import is_row_id

ROLES = ("member", "shop", "editor", "staff")


def _account(connection: ASGIConnection) -> CurrentAccount:
    account = connection.scope.get("state", {}).get("account")
    if account is None:
        raise NotAuthorizedException()
    return account


def _require(connection: ASGIConnection, *roles: str) -> None:
    if _account(connection).role not in roles:
        raise PermissionDeniedException()


async def logged_in(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    _account(connection)


async def member(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    _require(connection, "member")


async def shop_staff(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    _require(connection, "shop")


async def editor_or_staff(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    _require(connection, "editor", "staff")


async def staff(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    _require(connection, "staff")


async def card_checker(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Who may check a member card QR: the desk, editors at their events, shops at the counter."""
    _require(connection, "staff", "editor", "shop")


async def row_ids_in_range(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Every whole number in a path names a row. One outside 1…2^31−1 names none on either database, so
    it is the 404 page before any query (PostgreSQL would refuse the number itself with an error, a 500).
    Mounted for the whole app, so no route can forget it."""
    for value in connection.path_params.values():
        if isinstance(value, int) and not is_row_id(value):
            raise NotFoundException()
