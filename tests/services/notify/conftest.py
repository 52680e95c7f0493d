"""What the worker tests share: a Redis database of their own (the test module's REDIS_URL), empty before and after."""

import pytest
import redis.asyncio as aioredis


@pytest.fixture
async def clean_queue(request):
    client = aioredis.from_url(request.module.REDIS_URL)
    await client.flushdb()
    yield
    await client.flushdb()
    await client.aclose()
