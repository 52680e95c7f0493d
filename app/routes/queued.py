"""What a device kept while offline and sends later, through offline_queue.js (the member's check-ins, the
shop counter's uses): one way to read its JSON body and its time of scan, and one shape of answer.

An answer is {status: recorded | already | …} for the device to show and drop, {status: refused, reason,
detail} with 400 or 422 for the device to show and drop, or anything else (409, a login that ended, a server
error) for the device to keep and send again."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone

from litestar import Request
from litestar.response import Response

from app.i18n import TOKYO
from app.i18n import lazy_gettext as _l

BAD_JSON = _l("What the browser sent could not be read. Reload the page and try again.")
# Epoch milliseconds a device may send: after 2000-01-01 and before 2100-01-01 (anything else is no clock).
EPOCH_MS_RANGE = (946_684_800_000, 4_102_444_800_000)


def scanned_at_from(value: object) -> datetime | None:
    """The device's time of the scan: epoch milliseconds (a number or digits) or ISO 8601. A time without a
    zone is the device's wall clock in Japan, where the venues are. None when it is not a time."""
    if isinstance(value, str) and value.strip().isdecimal():
        value = int(value.strip())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or not EPOCH_MS_RANGE[0] <= value < EPOCH_MS_RANGE[1]:
            return None
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    if isinstance(value, str) and len(value) <= 64:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=TOKYO)
    return None


async def json_body(request: Request) -> object:
    try:
        return json.loads(await request.body())
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def answer(body: dict, status_code: int = 200) -> Response:
    return Response(body, status_code=status_code, headers={"Cache-Control": "no-store"})


def refused(reason: str, detail: str, status_code: int) -> Response:
    return answer({"status": "refused", "reason": reason, "detail": detail}, status_code)
