"""Server-side sessions are made only for visitors who have something to keep."""


async def test_a_plain_visit_creates_no_session(client, settings):
    response = await client.get("/")
    assert "tsunagu_session" not in response.headers.get("set-cookie", "")
    assert not list((settings.var_dir / "sessions").glob("*"))


async def test_static_files_get_no_session_cookie(client):
    response = await client.get("/static/css/app.css")
    assert "set-cookie" not in response.headers


async def test_a_started_registration_keeps_a_session_and_logout_clears_it(client, settings):
    await client.submit(
        "/register",
        {"display_name": "花子", "home_prefecture": "13", "ties": ["workation"], "consent": "2026-11-01", "terms": "2026-11-01"},
    )
    assert client.cookies.get("tsunagu_session")
    assert len(list((settings.var_dir / "sessions").glob("*"))) == 1
    await client.submit("/logout")
    assert not list((settings.var_dir / "sessions").glob("*"))
