"""The travel subsidy in figures: per program and area for a fiscal year (the program's, whenever it is paid), declined
claims apart and adding no yen; and the accountant's CSV with Japanese headers, audited."""

from __future__ import annotations

from datetime import date, datetime, timezone

from app.services.subsidy import figures
from app.services.subsidy.review import ClaimFilter
from db.tables import AuditLog, Member
from tests import factories
from tests.services.subsidy.conftest import NOW


async def test_totals_per_program_and_area_count_each_claim_by_its_status(covered):
    members = [covered.member] + [await factories.member(f"ふるさと{n}") for n in range(4)]
    states = [{"status": "paid", "approved_amount": 20_000, "paid_on": date(2026, 12, 8)},
              {"status": "approved", "approved_amount": 15_000},
              {"status": "submitted"},
              {"status": "declined", "note": "対象外"},
              {"status": "returned", "amount": 9_000, "fare": 9_000}]
    for member, state in zip(members, states, strict=True):
        await factories.travel_claim(covered.program, member.member_id, **state)
    tarumae = await factories.area("樽前", "tarumae")
    quiet = await factories.program(tarumae, title="樽前の空き家再生", starts_at=datetime(2026, 10, 3, tzinfo=timezone.utc),
                                    ends_at=datetime(2026, 10, 3, 6, tzinfo=timezone.utc))
    await factories.travel_subsidy(quiet)  # covered, nobody has claimed yet
    await factories.program(tarumae, title="対象外のプログラム")
    found = await figures.figures(2026)
    assert [(p.name, p.area_name) for p in found.by_program] == [("樽前の空き家再生", "樽前"), ("勇払の酪農体験", "勇払")]
    dairy = found.by_program[1]
    assert (dairy.claims, dairy.waiting, dairy.declined) == (4, 2, 1)
    assert (dairy.claimed, dairy.approved, dairy.paid) == (20_000 * 3 + 9_000, 35_000, 20_000)
    assert [(a.name, a.claims) for a in found.by_area] == [("樽前", 0), ("勇払", 4)]
    assert (found.total.claims, found.total.paid) == (4, 20_000)
    assert [a.name for a in (await figures.figures(2026, tarumae)).by_area] == ["樽前"]
    assert (await figures.figures(2025)).by_program == ()


async def test_a_march_programs_claim_paid_in_april_counts_in_the_year_of_the_program(covered):
    march = await factories.program(covered.area, title="3月の雪かきボランティア",
                                    starts_at=datetime(2027, 3, 20, 0, tzinfo=timezone.utc),
                                    ends_at=datetime(2027, 3, 21, 6, tzinfo=timezone.utc))
    await factories.travel_claim(march, covered.member.member_id, status="paid", approved_amount=20_000,
                                 paid_on=date(2027, 4, 10))
    assert [p.name for p in (await figures.figures(2026)).by_program][-1] == "3月の雪かきボランティア"
    assert (await figures.figures(2027)).by_program == ()


async def test_the_accountants_csv_has_a_row_per_claim_with_the_name_to_pay(covered):
    await Member.update({Member.family_name: "二地域", Member.given_name: "花子"}).where(Member.id == covered.member.member_id)
    await factories.travel_claim(covered.program, covered.member.member_id, status="approved", approved_amount=15_000,
                                 note="=JR区間は対象外", receipts=["/uploads/" + "a" * 32 + ".pdf"])
    name, text = await figures.export_csv(covered.staff, ClaimFilter(2026), NOW)
    lines = text.lstrip("\ufeff").splitlines()
    assert name == "travel-claims-fy2026.csv"
    assert lines[0].startswith("申請番号,地区,プログラム,会員番号,氏名,出発地,経路,交通手段,出発日,帰着日,運賃（円）")
    assert "二地域 花子" in lines[1] and ",24000,20000,20000,15000," in lines[1] and "航空機" in lines[1]
    assert "'=JR区間は対象外" in lines[1] and "/uploads/" in lines[1]
    entry = await AuditLog.select().where(AuditLog.action == "export.csv").first().output(load_json=True)
    assert (entry["target_type"], entry["detail"]["rows"]) == ("travel_claim", 1)
