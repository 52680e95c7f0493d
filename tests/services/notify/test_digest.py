"""The weekly digest: what goes in it, once per member and week however the rounds overlap, sent through a real
SMTP server with its one-click unsubscribe headers."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta, timezone

import pytest

from app.i18n import TOKYO
from app.keyfile import new_signing_key
from app.services.notify import digest, outbox, push_notifications
from app.services.notify.digest import DigestRefused
from app.services.notify.push_notifications import Target
from app.services.shared import clock
from app.services.shared.signed_tokens import TokenError, TokenSigner
from app.settings import Smtp
from db.tables import Account, Article, Digest, Member, Notice, OutboxMail
from tests import factories
from tests.mailbox import SmtpServer

KEY = new_signing_key()
BASE = "https://tsunagu.example.jp"
FRIDAY = datetime(2026, 12, 11, 18, 0, tzinfo=TOKYO)  # a sending time
NOW = FRIDAY + timedelta(minutes=3)


def outgoing(smtp: Smtp | None = None) -> digest.Outgoing:
    return digest.Outgoing(smtp or Smtp(), BASE, "つなぐ苫小牧", KEY)


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)


async def subscriber(area_ids: list[int], email: str = "hanako@example.jp", name: str = "つなぐ花子", **fields) -> int:
    """A member who asked for the digest ten days ago, with a confirmed address; their member id."""
    registered = await factories.member(name, email=email, verified=True, area_ids=area_ids, digest=True, **fields)
    await Member.update({Member.digest_since: NOW - timedelta(days=10)}).where(Member.id == registered.member_id)
    return registered.member_id


async def article(title: str, area_id: int | None, published_at: datetime, lead: str = "") -> int:
    row = Article(title=title, lead=lead, area=area_id, status="published", published_at=published_at)
    await row.save()
    return row.id


def test_the_sending_time_is_the_last_friday_at_six_in_the_evening_in_japan():
    assert digest.sending_time(FRIDAY) == FRIDAY
    assert digest.sending_time(FRIDAY - timedelta(seconds=1)) == FRIDAY - timedelta(days=7)
    assert digest.sending_time(FRIDAY + timedelta(days=6, hours=23)) == FRIDAY
    # 09:00 UTC on Friday is 18:00 in Tokyo
    assert digest.sending_time(datetime(2026, 12, 11, 9, 0, tzinfo=timezone.utc)) == FRIDAY


async def test_a_digest_of_the_followed_areas_reaches_the_mail_server_with_one_click_unsubscribe(tmp_path):
    yufutsu, tarumae = await factories.area(), await factories.area("樽前", "tarumae")
    member_id = await subscriber([yufutsu])
    await factories.program(yufutsu, title="湿原の木道づくり", published_at=NOW - timedelta(days=2))
    await factories.program(tarumae, title="樽前の空き家再生", published_at=NOW - timedelta(days=2))
    await factories.program(yufutsu, title="先月のプログラム", published_at=NOW - timedelta(days=30))
    await factories.program(yufutsu, title="下書き", status="draft", published_at=NOW - timedelta(days=1))
    await article("勇払の漁師に聞く", yufutsu, NOW - timedelta(days=1), lead="ほっき貝漁の一日を追いました。")
    await article("市からのお知らせ", None, NOW - timedelta(days=3))
    await article("樽前の記事", tarumae, NOW - timedelta(days=3))

    with SmtpServer() as server:
        smtp = Smtp(host="127.0.0.1", port=server.port, starttls=False, mail_from="furusato@city.tomakomai.example")
        assert await digest.run_due(outgoing(smtp)) == digest.DigestStats(sent=1)
        assert (await outbox.deliver_due(smtp, tmp_path)).sent == 1
        [message] = server.mailbox.messages
        body = server.mailbox.body()

    assert message["To"] == "hanako@example.jp"
    assert "つなぐ苫小牧" in server.mailbox.subject() and "3" in server.mailbox.subject()
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = re.fullmatch(r"<(https://tsunagu\.example\.jp/mail/unsubscribe/([A-Z2-7]+))>", message["List-Unsubscribe"])
    assert link, message["List-Unsubscribe"]
    assert digest.member_of(TokenSigner(KEY), link.group(2), NOW) == member_id
    assert link.group(1) in body  # the footer has the same link
    assert "つなぐ花子 様" in body and f"{BASE}/account/notifications" in body
    for shown in ("湿原の木道づくり", "勇払", "勇払の漁師に聞く", "ほっき貝漁の一日を追いました。", "市からのお知らせ"):
        assert shown in body
    for left_out in ("樽前", "先月のプログラム", "下書き"):
        assert left_out not in body
    assert re.search(rf"{BASE}/programs/\d+", body) and re.search(rf"{BASE}/articles/\d+", body)
    row = await Digest.select().where(Digest.member == member_id).first()
    assert (row["week"], row["programs"], row["articles"], row["mail"] is not None) == (FRIDAY.date(), 1, 2, True)


async def test_rounds_that_overlap_make_one_digest_and_a_later_round_that_week_none():
    area_id = await factories.area()
    await subscriber([area_id])
    await factories.program(area_id, published_at=NOW - timedelta(days=1))
    first, second = await asyncio.gather(digest.run_due(outgoing()), digest.run_due(outgoing()))
    assert first.sent + second.sent == 1
    assert await digest.run_due(outgoing(), NOW + timedelta(days=2)) == digest.DigestStats()
    assert await OutboxMail.count().where(OutboxMail.purpose == "digest") == 1
    assert await Digest.count() == 1


async def test_the_next_week_has_only_what_came_after_the_last_digest():
    area_id = await factories.area()
    member_id = await subscriber([area_id])
    await factories.program(area_id, title="先週のプログラム", published_at=NOW - timedelta(days=1))
    await digest.run_due(outgoing())
    await factories.program(area_id, title="今週のプログラム", published_at=NOW + timedelta(days=3))
    next_week = NOW + timedelta(days=7)
    assert await digest.run_due(outgoing(), next_week) == digest.DigestStats(sent=1)
    mails = await OutboxMail.select(OutboxMail.body).where(OutboxMail.purpose == "digest").order_by(OutboxMail.id)
    assert "今週のプログラム" in mails[1]["body"] and "先週のプログラム" not in mails[1]["body"]
    assert await Digest.count().where(Digest.member == member_id) == 2


async def test_a_week_with_nothing_new_sends_nothing_and_is_not_asked_again():
    area_id = await factories.area()
    await subscriber([area_id])
    await factories.program(area_id, published_at=NOW - timedelta(days=8))  # before the week
    assert await digest.run_due(outgoing()) == digest.DigestStats(empty=1)
    assert await digest.run_due(outgoing()) == digest.DigestStats()
    assert await OutboxMail.count() == 0


async def test_only_members_who_asked_before_the_sending_time_with_a_confirmed_address_get_it():
    area_id = await factories.area()
    await factories.program(area_id, published_at=NOW - timedelta(days=1))
    await factories.member("頼んでいない人", email="no@example.jp", verified=True, area_ids=[area_id])
    await factories.member("未確認の人", email="unconfirmed@example.jp", area_ids=[area_id], digest=True)
    late = await subscriber([area_id], email="late@example.jp")
    await Member.update({Member.digest_since: NOW - timedelta(minutes=1)}).where(Member.id == late)
    assert await digest.run_due(outgoing()) == digest.DigestStats()
    await factories.program(area_id, published_at=NOW + timedelta(days=1))
    assert await digest.run_due(outgoing(), NOW + timedelta(days=7)) == digest.DigestStats(sent=1)  # from next week


async def test_a_member_following_no_area_hears_of_every_area_in_their_own_language():
    area_id = await factories.area()
    member_id = await subscriber([], email="ken@example.com", name="Ken")
    await Account.update({Account.locale: "en"}).where(Account.email == "ken@example.com")
    await factories.program(area_id, title="Boardwalk building", published_at=NOW - timedelta(days=1))
    await digest.run_due(outgoing())
    mail = await OutboxMail.select().where(OutboxMail.purpose == "digest").first().output(load_json=True)
    assert mail["subject"] == "[つなぐ苫小牧] 1 new this week"
    assert "Dear Ken," in mail["body"] and "Boardwalk building" in mail["body"]
    assert mail["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert await digest.is_wanted(member_id)


async def test_turning_it_on_needs_an_address_and_off_stops_it():
    without = await factories.member("メールなし")
    with pytest.raises(DigestRefused) as refused:
        await digest.set_wanted(without.account_id, True, NOW)
    assert refused.value.reason == "no_email" and refused.value.field == "digest"
    member = await factories.member("メールあり", email="on@example.jp")
    await digest.set_wanted(member.account_id, True, NOW)
    await digest.set_wanted(member.account_id, True, NOW + timedelta(days=1))  # on again keeps the first time
    assert (await Member.select(Member.digest_since).where(Member.id == member.member_id).first())["digest_since"] == NOW
    assert await digest.stop(member.member_id)
    assert not await digest.stop(member.member_id)
    assert (await digest.choice(member.account_id)).wanted is False


def test_a_changed_or_foreign_token_names_nobody():
    signer = TokenSigner(KEY)
    token = digest.unsubscribe_path(signer, 7, NOW).rsplit("/", 1)[1]
    assert digest.member_of(signer, token, NOW) == 7
    def changed(at: int) -> str:
        return token[:at] + ("B" if token[at] != "B" else "C") + token[at + 1:]

    # A character of the member's id, one of the signature; empty, too long; another key, another kind of code.
    for bad in (changed(5), changed(40), "", "x" * 500,
                TokenSigner(new_signing_key()).sign("unsubscribe", 7, NOW + timedelta(days=1)),
                signer.sign("card", 7, NOW + timedelta(days=1))):
        with pytest.raises(TokenError):
            digest.member_of(signer, bad, NOW)
    with pytest.raises(TokenError):
        digest.member_of(signer, token, NOW + timedelta(days=digest.LINK_DAYS + 1))



async def test_a_broadcast_unread_in_the_inbox_reaches_a_mail_only_member_by_the_digest():
    area_id = await factories.area()
    member_id = await subscriber([area_id])
    account_id = (await Member.select(Member.account).where(Member.id == member_id).first())["account"]
    await Notice.insert(
        Notice(account=account_id, title="年末年始の窓口のお知らせ", url="/inbox", created_at=NOW - timedelta(days=2)),
        Notice(account=account_id, title="読んだお知らせ", created_at=NOW - timedelta(days=1), read_at=NOW),
        Notice(account=account_id, title="先月のお知らせ", created_at=NOW - timedelta(days=20)))
    assert await digest.run_due(outgoing()) == digest.DigestStats(sent=1)
    body = (await OutboxMail.select(OutboxMail.body).first())["body"]
    assert "年末年始の窓口のお知らせ" in body and f"{BASE}/inbox" in body
    assert "読んだお知らせ" not in body and "先月のお知らせ" not in body


async def test_the_composers_reach_counts_the_members_the_weekly_mail_reaches():
    area_id = await factories.area()
    await subscriber([area_id])
    await factories.member("確認前の人", email="before@example.jp", verified=False, area_ids=[area_id], digest=True)
    await factories.member("頼んでいない人", email="never@example.jp", verified=True, area_ids=[area_id])
    reach = await push_notifications.reach(Target(topic="news"))
    assert (reach.people, reach.mail) == (3, 1)  # only the one who asked, with a confirmed address
