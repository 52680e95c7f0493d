"""Scaled out: sessions and rate limits in Redis, so any process can serve any request."""

import uuid

import redis.asyncio as aioredis

from app.main import create_app
from tests.conftest import Client, requires_redis

REDIS_URL = "redis://127.0.0.1:6379/15"


pytestmark = requires_redis


async def test_two_app_processes_share_a_session_through_redis(settings):
    scaled = settings.with_(redis_url=REDIS_URL)
    first, second = create_app(scaled), create_app(scaled)
    name = f"花子-{uuid.uuid4().hex[:6]}"
    async with Client(app=first, base_url="http://localhost:8000") as a, Client(app=second, base_url="http://localhost:8000") as b:
        await a.submit("/register", {"display_name": name, "home_prefecture": "13", "ties": ["workation"], "consent": "2026-11-01", "terms": "2026-11-01"})
        session_id = a.cookies.get("tsunagu_session")
        assert session_id
        b.cookies.set("tsunagu_session", session_id)
        b.cookies.set("tsunagu_csrf", a.cookies.get("tsunagu_csrf"))
        page = await b.get("/passkeys/new")
        assert page.status_code == 200
        assert name in page.text
    client = aioredis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match="tsunagu*")]
        assert any(session_id.encode() in key for key in keys)
    finally:
        await client.flushdb()
        await client.aclose()
