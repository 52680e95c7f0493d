"""Every route that takes an id answers the 404 page for a number outside 1…2^31−1, before any query,
whoever asks (PostgreSQL would otherwise refuse the number with an error, a 500)."""

import re

import pytest

from tests import factories
from tests.conftest import log_in

OUT_OF_RANGE = ["0", "2147483648", "9223372036854775808", "99999999999999999999999"]
INT_PARAM = re.compile(r"\{(\w+):int\}")


def id_routes(app) -> list[tuple[str, str]]:
    """(method, path) for every route with an id in its path, ids left as {name:int}."""
    routes = []
    for route in app.routes:
        if not INT_PARAM.search(route.path):
            continue
        for method in sorted(getattr(route, "methods", set()) - {"HEAD", "OPTIONS"}):
            routes.append((method, route.path))
    return routes


def test_the_routes_with_ids_are_many(app):
    assert len(id_routes(app)) > 60


@pytest.mark.parametrize("role", ["anonymous", "staff"])
async def test_an_id_outside_the_range_is_the_404_page_on_every_route(app, client, role):
    if role == "staff":
        await log_in(client, await factories.staff_account())
    await client.ensure_csrf()
    answers = {}
    for method, path in id_routes(app):
        for number in OUT_OF_RANGE:
            url = INT_PARAM.sub(number, path)
            if method == "GET":
                response = await client.get(url)
            else:
                response = await client.submit(url, {}) if method == "POST" else await client.request(
                    method, url, headers={"x-csrftoken": client.csrf_token})
            answers[(method, url)] = response.status_code
            if response.status_code == 404 and method == "GET":
                assert "text/html" in response.headers["content-type"]
    assert {key: code for key, code in answers.items() if code != 404} == {}
