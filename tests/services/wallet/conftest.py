import pytest

from tests.services.wallet.redemption_scene import Scene, new_scene


@pytest.fixture
async def scene() -> Scene:
    return await new_scene()
