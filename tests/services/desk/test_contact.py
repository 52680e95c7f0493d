"""The desk's contact details, from its portal block."""

from __future__ import annotations

from app.services.desk import contact
from db.tables import PortalBlock
from tests.services.desk.helpers import DESK_EMAIL


async def test_the_desk_is_read_from_its_portal_block_or_falls_back_to_a_name():
    assert await contact.load_desk("相談窓口") == contact.Desk("相談窓口")
    await PortalBlock.insert(PortalBlock(kind="desk", key="desk", title="ふるさと住民 相談窓口",
                                         fields={"phone": "0144-32-6111", "email": DESK_EMAIL, "hours": "平日 8:45〜17:15"}))
    assert await contact.load_desk("相談窓口") == contact.Desk("ふるさと住民 相談窓口", "0144-32-6111", DESK_EMAIL,
                                                                   "平日 8:45〜17:15")
