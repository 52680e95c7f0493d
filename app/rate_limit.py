"""A per-address limit on logins, registrations and recoveries (Litestar's rate-limit middleware,
on the app's store: a file by default, Redis when scaled out so every process counts together).

Handlers opt in with `opt=RATE_LIMITED`; other requests pass without being counted."""

from __future__ import annotations

from litestar import Request
from litestar.middleware.rate_limit import RateLimitConfig

RATE_LIMITED = {"rate_limited": True}
# Scans are limited per shop account rather than per address: a shop's tablets may share one address.
SCAN_LIMITED = {"scan_limited": True}


def _counts(request: Request) -> bool:
    return bool(request.route_handler.opt.get("rate_limited"))


def _counts_scan(request: Request) -> bool:
    return bool(request.route_handler.opt.get("scan_limited"))


def _account_key(request: Request) -> str:
    account = request.scope.get("state", {}).get("account")
    return f"account:{account.id}" if account else f"address:{request.client.host if request.client else ''}"


def rate_limit_config(per_minute: int) -> RateLimitConfig:
    return RateLimitConfig(
        rate_limit=("minute", per_minute),
        store="rate_limit",
        check_throttle_handler=_counts,
        set_rate_limit_headers=False,
        exclude=["^/static/", "^/icons/"],
    )


def scan_rate_limit_config(per_minute: int) -> RateLimitConfig:
    return RateLimitConfig(
        rate_limit=("minute", per_minute),
        store="rate_limit",
        check_throttle_handler=_counts_scan,
        identifier_for_request=_account_key,
        set_rate_limit_headers=False,
        exclude=["^/static/", "^/icons/"],
    )
