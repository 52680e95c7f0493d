"""The portal: blocks from the database with defaults, and the short per-process cache in front of it."""

from app.services.portal import portal
from app.services.portal.portal import LinkCard, PortalCache, load_portal
from db.tables import PortalBlock

DEFAULT_LINKS = [LinkCard("ふるさと納税", "", "https://example.jp/", "gift")]


async def test_defaults_stand_in_until_blocks_are_written():
    loaded = await load_portal("既定の見出し", "既定の本文", DEFAULT_LINKS)
    assert (loaded.hero_title, loaded.links) == ("既定の見出し", DEFAULT_LINKS)


async def test_active_blocks_replace_the_defaults_in_order():
    await PortalBlock.insert(
        PortalBlock(kind="hero", key="hero", title="海と森のまち", body="本文"),
        PortalBlock(kind="link", key="b", title="二番目", url="https://b.example/", position=2),
        PortalBlock(kind="link", key="a", title="一番目", url="https://a.example/", position=1),
        PortalBlock(kind="link", key="off", title="非公開", url="https://c.example/", active=False),
    )
    loaded = await load_portal("x", "y", DEFAULT_LINKS)
    assert loaded.hero_title == "海と森のまち"
    assert [link.title for link in loaded.links] == ["一番目", "二番目"]


async def test_the_cache_serves_a_copy_until_its_time_is_up(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(portal.time, "monotonic", lambda: clock[0])
    loads = []

    async def load():
        loads.append(1)
        return await load_portal(f"見出し{len(loads)}", "", DEFAULT_LINKS)

    cache = PortalCache(ttl_s=10)
    assert (await cache.get("ja", load)).hero_title == "見出し1"
    clock[0] += 9
    assert (await cache.get("ja", load)).hero_title == "見出し1"
    assert (await cache.get("en", load)).hero_title == "見出し2"
    clock[0] += 2
    assert (await cache.get("ja", load)).hero_title == "見出し3"
    cache.clear()
    assert (await cache.get("ja", load)).hero_title == "見出し4"
