"""The people most service tests act as: two areas, the secretariat, and an editor of each area."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from app.services.shared.actor import Actor
from tests import factories


@dataclass
class Scene:
    """Two areas; the secretariat; an editor of the first area and an editor of the second."""

    area: int
    other_area: int
    staff: Actor
    editor: Actor
    other_editor: Actor


@pytest.fixture
async def scene() -> Scene:
    area = await factories.area("勇払", "yufutsu")
    other_area = await factories.area("樽前", "tarumae")
    staff = await factories.staff_account("事務局 佐藤")
    editor = await factories.staff_account("勇払 編集 鈴木", role="editor", area=area)
    other_editor = await factories.staff_account("樽前 編集 高橋", role="editor", area=other_area)
    return Scene(area, other_area, Actor(staff, "staff"), Actor(editor, "editor", area),
                 Actor(other_editor, "editor", other_area))
