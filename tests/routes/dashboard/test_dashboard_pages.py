"""The KPI dashboard, targets and yearly report pages: what staff see, download and save, and what a
wrong address or a bad form gets (a message on the page, never a 500, nothing half-saved)."""

import csv
import io
import re
import xml.etree.ElementTree as ElementTree
import zipfile

import pytest
from PIL import Image
from pypdf import PdfReader

from app.services.dashboard import display, report, tables, targets
from app.services.programs.activities import fiscal_year_of
from app.services.shared import clock, pdf, uploads
from db.tables import Article, AuditLog, KpiTarget, ReportSection
from tests import factories
from tests.conftest import log_in

THIS_YEAR = fiscal_year_of(clock.now())


async def staff_client(client) -> int:
    staff_id = await factories.staff_account()
    await log_in(client, staff_id)
    return staff_id


@pytest.fixture
async def data(settings):
    """An area with a target, two members this year, one following the area, and an article with a photo."""
    area_id = await factories.area("勇払", "yufutsu")
    await factories.member("つなぐ花子", home_prefecture="13", area_ids=[area_id])
    await factories.member("港太郎", home_prefecture="27", ties=["furusato_tax"])
    for metric, area, value in (("registrations", 0, 120), ("participants", area_id, 10), ("response_rate", 0, 60)):
        await KpiTarget(fiscal_year=THIS_YEAR, metric=metric, area_id=area, value=value).save()
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), (0, 114, 178)).save(picture, "PNG")
    cover = await uploads.save_image(picture.getvalue(), settings.var_dir, None)
    await Article(kind="report", title="勇払の牧場で酪農体験", cover_image=cover, status="published",
                  published_at=clock.now(), area=area_id).save()
    return {"area": area_id, "cover": cover}


# Dashboard


async def test_staff_see_targets_against_actual_figures_and_charts(client, data):
    await staff_client(client)
    response = await client.get("/staff/dashboard")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    html = response.text
    assert 'data-testid="actual-registrations">2<' in html
    assert "目標120・達成率1.7%" in html  # 2 of 120
    for key in display.CHART_KEYS:
        assert f'data-testid="chart-{key}"' in html
    assert html.count('role="img"') >= len(display.CHART_KEYS)
    assert "intent_to_move" in html  # the definition of intent to move is on the page


async def test_an_area_narrows_the_dashboard_and_htmx_gets_only_the_fragment(client, data):
    await staff_client(client)
    response = await client.get(f"/staff/dashboard?year={THIS_YEAR}&area={data['area']}", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "<html" not in response.text and 'id="dashboard"' in response.text
    assert 'data-testid="actual-registrations">1<' in response.text  # only the follower
    assert "HX-Request" in response.headers["vary"]


@pytest.mark.parametrize("query", ["?year=abc", "?year=1850", "?area=999", "?area=x", "?year=２０２６"])
async def test_a_year_or_area_not_offered_gets_a_message_not_an_error(client, data, query):
    await staff_client(client)
    response = await client.get("/staff/dashboard" + query)
    assert response.status_code == 422
    assert "一覧から選んでください" in response.text


async def test_a_table_downloads_as_csv_for_excel_and_the_export_is_audited(client, data):
    staff_id = await staff_client(client)
    response = await client.get(f"/staff/dashboard/registrations_by_prefecture/csv?year={THIS_YEAR}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert f"kpi-fy{THIS_YEAR}-registrations-by-prefecture.csv" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows == [["居住都道府県", "会員数"], ["東京都", "1"], ["大阪府", "1"]]
    audit = await AuditLog.select().where(AuditLog.action == "export.csv").first()
    assert (audit["actor"], audit["target_type"], audit["target_id"]) == (staff_id, "kpi", "registrations_by_prefecture")


async def test_every_table_of_the_page_downloads(client, data):
    await staff_client(client)
    html = (await client.get("/staff/dashboard")).text
    links = set(re.findall(r'href="(/staff/dashboard/[a-z_]+/csv\?[^"]*)"', html))
    assert len(links) == len(tables.TABLE_KEYS)
    for link in links:
        response = await client.get(link.replace("&amp;", "&"))
        assert response.status_code == 200 and response.content.startswith(b"\xef\xbb\xbf"), link


async def test_a_csv_of_an_unknown_table_is_not_found_and_a_bad_year_is_explained(client, data):
    await staff_client(client)
    assert (await client.get("/staff/dashboard/members/csv")).status_code == 404
    response = await client.get("/staff/dashboard/targets/csv?year=zzz")
    assert response.status_code == 422 and "一覧から選んでください" in response.text


async def test_members_editors_and_shops_cannot_open_the_dashboard(client, data):
    member = await factories.member("外部 一郎")
    await log_in(client, member.account_id)
    for path in ("/staff/dashboard", "/staff/targets", "/staff/report", "/staff/report/print", "/staff/report/zip",
                 "/staff/dashboard/targets/csv"):
        assert (await client.get(path)).status_code == 403, path


async def test_the_staff_home_links_to_the_dashboard_and_the_report(client):
    await staff_client(client)
    html = (await client.get("/staff")).text
    assert 'href="/staff/dashboard"' in html and 'href="/staff/report"' in html


# Targets


async def test_targets_are_set_from_the_form_and_shown_on_the_dashboard(client, data):
    await staff_client(client)
    page = await client.get(f"/staff/targets?year={THIS_YEAR}")
    assert page.status_code == 200 and 'value="120"' in page.text
    response = await client.submit("/staff/targets", {
        "year": str(THIS_YEAR), "registrations": "１，５００", "activations": "300", "redemptions": "",
        "response_rate": "55", f"participants_{data['area']}": "12",
    }, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/staff/dashboard?year={THIS_YEAR}"
    assert await targets.targets(THIS_YEAR) == {("registrations", 0): 1500, ("activations", 0): 300,
                                             ("response_rate", 0): 55, ("participants", data["area"]): 12}
    dashboard = await client.get(response.headers["location"])
    assert "目標1,500" in dashboard.text


async def test_bad_targets_are_shown_next_to_their_fields_and_nothing_is_saved(client, data):
    await staff_client(client)
    response = await client.hx_post("/staff/targets", {
        "year": str(THIS_YEAR), "registrations": "-3", "activations": "たくさん", "response_rate": "120",
        f"participants_{data['area']}": "8",
    })
    assert response.status_code == 422
    assert 'data-testid="error-registrations"' in response.text and 'data-testid="error-response_rate"' in response.text
    assert 'value="たくさん"' in response.text
    assert (await targets.targets(THIS_YEAR))[("participants", data["area"])] == 10


async def test_targets_for_a_year_not_offered_go_back_with_a_message(client, data):
    await staff_client(client)
    response = await client.submit("/staff/targets", {"year": "abc", "registrations": "1"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/staff/targets"
    assert "一覧から選んでください" in (await client.get("/staff/targets")).text
    assert (await client.get("/staff/targets?year=3000", follow_redirects=False)).status_code == 303


# Yearly report


async def test_report_texts_are_saved_and_printed_as_paragraphs(client, data):
    await staff_client(client)
    assert (await client.get("/staff/report")).status_code == 200
    response = await client.submit("/staff/report", {
        "year": str(THIS_YEAR), "effects": "登録者が増えました。\r\n\r\n特に首都圏から。", "issues": "冬の参加が少ない。",
        "direction": "",
    }, follow_redirects=False)
    assert response.status_code == 303
    assert await report.sections(THIS_YEAR) == {"effects": "登録者が増えました。\n\n特に首都圏から。",
                                                 "issues": "冬の参加が少ない。", "direction": ""}
    printed = await client.get(f"/staff/report/print?year={THIS_YEAR}")
    assert printed.status_code == 200
    assert "<p>登録者が増えました。</p><p>特に首都圏から。</p>" in printed.text
    assert "css/print.css" in printed.text and f'src="{data["cover"]}"' in printed.text
    assert 'data-testid="chart-funnel"' in printed.text
    assert '<h2 id="r-desk">5. 相談窓口</h2>' in printed.text and "受付方法別の相談件数" in printed.text
    for section in ("2. ふるさと住民登録", "3. 地域プログラム・交流会・記事", "4. エントリーパス"):
        assert section in printed.text
    for table in ("年度末の会員数", "種類別・地域別の地域活動", "年度内のプログラムと交流会", "公開した記事", "店舗と特典の変更"):
        assert table in printed.text


async def test_a_report_text_over_the_limit_is_refused_and_nothing_is_saved(client, data):
    await staff_client(client)
    response = await client.hx_post("/staff/report", {"year": str(THIS_YEAR), "effects": "あ" * (report.SECTION_MAX + 1),
                                                      "issues": "短い"})
    assert response.status_code == 422 and 'data-testid="error-effects"' in response.text
    assert await ReportSection.count() == 0


async def test_the_zip_holds_every_table_chart_and_photo_and_is_audited(client, data):
    staff_id = await staff_client(client)
    await client.submit("/staff/report", {"year": str(THIS_YEAR), "effects": "効果", "issues": "課題", "direction": "方向性"})
    response = await client.get(f"/staff/report/zip?year={THIS_YEAR}")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = archive.namelist()
    assert sorted(n for n in names if n.startswith("csv/")) == sorted(
        f"csv/kpi-fy{THIS_YEAR}-{key.replace('_', '-')}.csv" for key in tables.TABLE_KEYS)
    assert sorted(n for n in names if n.startswith("charts/")) == sorted(f"charts/{key}.svg" for key in display.CHART_KEYS)
    assert [n for n in names if n.startswith("photos/")] == [f"photos/01-{uploads.name_of(data['cover'])}"]
    assert archive.read(f"csv/kpi-fy{THIS_YEAR}-targets.csv").startswith(b"\xef\xbb\xbf")
    for key in display.CHART_KEYS:  # each a well-formed SVG file of its own
        assert ElementTree.fromstring(archive.read(f"charts/{key}.svg")).tag == "{http://www.w3.org/2000/svg}svg"
    assert "会員登録数" in archive.read("charts/trend-registrations.svg").decode()  # Japanese, like the CSV
    assert "■ 今年度の取り組みの効果\n\n効果" in archive.read("report.txt").decode()
    audit = await AuditLog.select().where(AuditLog.target_type == "report").first()
    assert (audit["actor"], audit["target_id"], audit["action"]) == (staff_id, "zip", "export.zip")


@pytest.mark.skipif(pdf.chromium_path() is None, reason="no Chromium on this machine")
def outline_titles(outline: list) -> list[str]:
    """A PDF outline's titles in reading order, nested entries flattened."""
    return [title for entry in outline
            for title in (outline_titles(entry) if isinstance(entry, list) else [entry.title])]


async def test_the_pdf_is_a_real_pdf_of_several_a4_pages_and_is_audited(client, data):
    staff_id = await staff_client(client)
    response = await client.get(f"/staff/report/pdf?year={THIS_YEAR}", timeout=120)
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", response.content))
    assert pages >= 5  # the cover, five parts of figures, the texts and the photos
    assert re.search(rb"/MediaBox\s*\[\s*0 0 59[45]\.\d+ 84[12]\.\d+\s*\]", response.content)  # A4 in points
    # Every section is a bookmark of the PDF (Chromium's outline of the headings, under the cover's title).
    sections = [title for title in outline_titles(PdfReader(io.BytesIO(response.content)).outline) if title[:1].isdigit()]
    assert sections == ["1. 目標と実績", "2. ふるさと住民登録", "3. 地域プログラム・交流会・記事", "4. エントリーパス", "5. 相談窓口",
                        "6. プロモーション", "7. ポータルサイト", "8. アンケート", "9. 効果・課題・次年度の方向性",
                        "10. 年度内の記事の写真"]
    audit = await AuditLog.select().where(AuditLog.target_type == "report").first()
    assert (audit["actor"], audit["target_id"], audit["action"]) == (staff_id, "pdf", "export.pdf")


async def test_without_chromium_the_pdf_is_explained_not_failed(client, data, monkeypatch):
    monkeypatch.setattr(pdf, "chromium_path", lambda: None)
    await staff_client(client)
    page = await client.get("/staff/report")
    assert 'data-testid="report-no-pdf"' in page.text and 'data-testid="report-pdf"' not in page.text
    response = await client.get(f"/staff/report/pdf?year={THIS_YEAR}")
    assert response.status_code == 503
    assert "Chromium" in response.text and "PDF" in response.text
    assert await AuditLog.count().where(AuditLog.target_type == "report") == 0


async def test_a_report_for_a_year_not_offered_goes_back_to_this_year(client, data):
    await staff_client(client)
    for path in ("/staff/report?year=x", "/staff/report/print?year=x", "/staff/report/pdf?year=0", "/staff/report/zip?year=-1"):
        response = await client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/staff/report", path


async def test_the_pages_read_in_english_too(client, data):
    await staff_client(client)
    client.cookies.set("lang", "en")
    for path in ("/staff/dashboard", "/staff/targets", "/staff/report", "/staff/report/print"):
        response = await client.get(path)
        assert response.status_code == 200, path
    assert f"FY{THIS_YEAR}" in response.text and "Yearly report" in response.text
