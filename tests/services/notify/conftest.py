"""What the notify tests share: a clock that moves only when told (`frozen`), and for the worker tests a Redis
database of their own (the test module's REDIS_URL), empty before and after."""

from datetime import datetime, timedelta, timezone

import pytest
import redis.asyncio as aioredis

from app.services.shared import clock


class FrozenClock:
    """`clock.now()` that only moves when told to (whole seconds, so stored times compare exactly)."""

    def __init__(self) -> None:
        self.at = datetime.now(timezone.utc).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> datetime:
        self.at += timedelta(**delta)
        return self.at


@pytest.fixture
def frozen(monkeypatch) -> FrozenClock:
    now = FrozenClock()
    monkeypatch.setattr(clock, "now", now)
    return now


@pytest.fixture
async def clean_queue(request):
    client = aioredis.from_url(request.module.REDIS_URL)
    await client.flushdb()
    yield
    await client.flushdb()
    await client.aclose()
