"""受入支援 through its pages: an editor enters their own area's payment with a receipt and cannot enter another's,
staff set budgets, see warnings and confirm; the CSV; bad input answered on the page, never a 500."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from db.tables import Budget, Spending
from tests import factories
from tests.conftest import Client, log_in


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(out, "JPEG")
    return out.getvalue()


def this_year() -> int:
    from app.services.programs.activities import fiscal_year_of
    from app.services.shared import clock
    return fiscal_year_of(clock.now())


async def post_spending(client: Client, data: dict, receipt: tuple | None = None):
    token = await client.ensure_csrf()
    files = {"receipt": receipt or ("", b"", "application/octet-stream")}
    return await client.post("/editor/budgets/spending", data={**data, "_csrf_token": token}, files=files,
                             follow_redirects=False)


def spending(area_id: int, **changes) -> dict:
    from app.i18n import to_tokyo
    from app.services.shared import clock
    return {"year": str(this_year()), "area": str(area_id), "spent_on": to_tokyo(clock.now()).date().isoformat(),
            "amount": "１２，０００円", "payee": "勇払ファーム", "purpose": "受入時の昼食代", "program": "", "over_reason": "",
            **changes}


async def test_an_editor_enters_their_areas_payment_with_a_receipt_and_staff_confirm_it(app, client):
    yufutsu = await factories.area()
    tarumae = await factories.area("樽前", "tarumae")
    editor = await factories.staff_account("編集 勇払", role="editor", area=yufutsu)
    await log_in(client, editor)
    page = await client.get("/editor/budgets")
    assert page.status_code == 200 and page.text.count('data-testid="budget-area"') == 1  # their own area only
    entered = await post_spending(client, spending(yufutsu), ("receipt.jpg", photo(), "image/jpeg"))
    assert entered.status_code == 303
    row = await Spending.select().first()
    assert (row["amount"], row["area"], row["status"]) == (12_000, yufutsu, "entered")
    assert row["receipt_url"].startswith("/uploads/")
    refused = await post_spending(client, spending(tarumae))
    assert refused.status_code == 422 and 'data-testid="error-area"' in refused.text
    assert await Spending.count() == 1
    assert (await client.post("/staff/budgets", data={"area": str(yufutsu), "budget_amount": "1"})).status_code in (401, 403)
    async with Client(app=app, base_url="http://localhost:8000", raise_server_exceptions=False) as office:
        await log_in(office, await factories.staff_account())
        listed = await office.get("/editor/budgets")
        assert listed.text.count('data-testid="budget-area"') == 2 and "勇払ファーム" in listed.text
        confirmed = await office.submit(f"/staff/budgets/spending/{row['id']}/confirm", {"year": str(this_year())},
                                        follow_redirects=True)
        assert "支出を確認しました" in confirmed.text and 'data-status="confirmed"' in confirmed.text
        csv = await office.get("/editor/budgets/csv")
        assert "勇払ファーム" in csv.content.decode("utf-8-sig")


async def test_a_receipt_is_served_to_staff_and_its_uploader_only_and_never_kept(app, client):
    yufutsu = await factories.area()
    editor = await factories.staff_account("編集 勇払", role="editor", area=yufutsu)
    await log_in(client, editor)
    assert (await post_spending(client, spending(yufutsu), ("receipt.jpg", photo(), "image/jpeg"))).status_code == 303
    url = (await Spending.select(Spending.receipt_url).first())["receipt_url"]
    assert f'href="{url}"' in (await client.get("/editor/budgets")).text
    own = await client.get(url)
    assert own.status_code == 200 and own.headers["content-type"] == "image/jpeg"
    assert own.headers["cache-control"] == "private, no-store" and own.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in own.headers["content-security-policy"]
    neighbour = await factories.staff_account("編集 勇払2", role="editor", area=yufutsu)
    others = {"visitor": None, "member": (await factories.member(display_name="会員 花子")).account_id,
              "editor": await factories.staff_account("編集 樽前", role="editor", area=await factories.area("樽前", "tarumae")),
              "staff": await factories.staff_account(), "editor of the same area": neighbour}
    async with Client(app=app, base_url="http://localhost:8000", raise_server_exceptions=False) as same_area:
        await log_in(same_area, neighbour)  # sees the payment, not a link to a receipt it may not open
        listed = (await same_area.get("/editor/budgets")).text
        assert "勇払ファーム" in listed and url not in listed and 'data-testid="spending-receipt-kept"' in listed
    for who, account_id in others.items():
        async with Client(app=app, base_url="http://localhost:8000", raise_server_exceptions=False) as other:
            if account_id:
                await log_in(other, account_id)
            answer = await other.get(url)
            if who == "staff":
                assert answer.status_code == 200 and answer.content == own.content
                assert answer.headers["cache-control"] == "private, no-store"
                assert f'href="{url}"' in (await other.get("/editor/budgets")).text
            else:  # exactly what a name never stored gets: nothing tells that the receipt exists
                never_stored = "/uploads/" + "0" * 32 + ".jpg"
                missing = await other.get(never_stored)
                assert (answer.status_code, answer.text.replace(url, never_stored), answer.headers.get("cache-control")) == (
                    404, missing.text, missing.headers.get("cache-control")), who


async def test_staff_set_a_budget_and_the_area_warns_then_asks_for_a_reason_to_go_over(client):
    area = await factories.area()
    await log_in(client, await factories.staff_account())
    await client.submit("/staff/budgets", {"year": str(this_year()), "area": str(area), "budget_amount": "15,000"})
    assert (await Budget.select(Budget.amount).first())["amount"] == 15_000
    await post_spending(client, spending(area))
    warned = await client.get("/editor/budgets")
    assert 'data-level="warn"' in warned.text and 'data-testid="budget-warn"' in warned.text
    over = await post_spending(client, spending(area, amount="5,000"))
    assert over.status_code == 422 and 'data-testid="error-over_reason"' in over.text
    await post_spending(client, spending(area, amount="5,000", over_reason="雪で送迎車を追加"))
    assert 'data-level="over"' in (await client.get("/editor/budgets")).text


@pytest.mark.parametrize("changes, field", [
    ({"amount": "たくさん"}, "amount"), ({"payee": ""}, "payee"), ({"spent_on": "2999-01-01"}, "spent_on"),
    ({"area": "abc"}, "area"), ({"area": "999999"}, "area"), ({"program": "999999"}, "program"),
])
async def test_a_bad_payment_comes_back_with_its_message_and_nothing_is_kept(client, changes, field):
    area = await factories.area()
    await log_in(client, await factories.staff_account())
    response = await post_spending(client, spending(area, **changes))
    assert response.status_code == 422 and f'data-testid="error-{field}"' in response.text
    assert await Spending.count() == 0


async def test_a_receipt_that_is_not_a_picture_or_pdf_is_refused(client):
    area = await factories.area()
    await log_in(client, await factories.staff_account())
    response = await post_spending(client, spending(area), ("receipt.exe", b"MZ\x90\x00" * 50, "application/octet-stream"))
    assert response.status_code == 422 and 'data-testid="error-receipt"' in response.text
    assert await Spending.count() == 0


@pytest.mark.parametrize("url", ["/editor/budgets?year=abc", "/editor/budgets?year=99999", "/editor/budgets/csv?year=%00"])
async def test_odd_addresses_never_give_a_500(client, url):
    await log_in(client, await factories.staff_account())
    assert (await client.get(url)).status_code in (200, 422)


async def test_a_bad_budget_amount_comes_back_with_its_message(client):
    area = await factories.area()
    await log_in(client, await factories.staff_account())
    response = await client.submit("/staff/budgets", {"year": str(this_year()), "area": str(area), "budget_amount": "-5"})
    assert response.status_code == 422 and 'data-testid="error-budget_amount"' in response.text
    assert (await client.submit("/staff/budgets", {"area": "x", "budget_amount": "5"})).status_code == 422
