"""Fixtures of the dashboard service tests: the clock after fiscal 2026, and that year's data set."""

import pytest

from app.services.shared import clock
from tests.services.dashboard import fiscal_2026


@pytest.fixture
def after_the_year(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: fiscal_2026.AFTER_THE_YEAR)


@pytest.fixture
async def data(after_the_year):
    return await fiscal_2026.load()
