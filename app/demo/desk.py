"""Demo consultation desk: its contact details, a few saved answers, and inquiries at different stages."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr
from pathlib import Path

from app.services.desk import contact, mail_replies
from app.services.desk.mailbox import Fetched
from app.services.desk.validation import CONSENT_VERSION
from app.services.shared import clock
from app.settings import Smtp
from db.engine import atomic
from db.tables import Inquiry, InquiryMessage, PortalBlock, ReplyTemplate

# The consultation desk: its contact details (a portal block staff edit) and a few saved answers.
DESK = {
    "kind": "desk",
    "key": "desk",
    "title": "ふるさと住民 相談窓口",
    "body": "二地域居住や移住のご相談を、電話・メール・ウェブフォームで受け付けています。",
    "fields": {"phone": "0144-32-6111", "email": "furusato-desk@city.tomakomai.example", "hours": "平日 8:45〜17:15",
               "notice": "年末年始（12月29日〜1月3日）はお休みします。ウェブフォームのお問い合わせには1月5日から順にお返事します。"},
    "position": 90,
}
REPLY_TEMPLATES = [
    {
        "title": "受付のお礼と回答までの目安",
        "category": "",
        "body": "{name} 様\n\nお問い合わせ（受付番号 {reference}）をいただき、ありがとうございます。\n"
                "担当者が確認のうえ、3営業日以内にご連絡いたします。",
    },
    {
        "title": "お試し住宅のご案内",
        "category": "dual_residence",
        "body": "苫小牧市では、二地域居住や移住を考えている方向けに、家具・家電つきの「お試し住宅」を"
                "1週間から最長1か月までご利用いただけます。\n空き状況とお申し込み方法をご案内しますので、"
                "ご希望の時期と人数をお知らせください。",
    },
    {
        "title": "空き家バンクのご案内",
        "category": "housing",
        "body": "市内の空き家は「苫小牧市空き家バンク」に掲載しています。気になる物件があれば、"
                "見学の日程を調整しますので、物件番号をお知らせください。",
    },
]


async def load_desk_demo() -> dict[str, int]:
    """The desk block, keyed by key, and the saved answers, keyed by title."""
    created = {"desk": 0, "reply_templates": 0}
    if not await PortalBlock.exists().where(PortalBlock.key == DESK["key"]):
        await PortalBlock(**DESK).save()
        created["desk"] += 1
    for row in REPLY_TEMPLATES:
        if not await ReplyTemplate.exists().where(ReplyTemplate.title == row["title"]):
            await ReplyTemplate(**row, updated_at=clock.now()).save()
            created["reply_templates"] += 1
    return created


# A few inquiries at different stages, so the desk's inbox shows what a working week looks like:
# (reference, status, days ago, name, e-mail, phone, method, category, the asker's message, the desk's answer).
DEMO_INQUIRIES = [
    ("Q-DEMO-2A3B", "new", 1, "青木 沙織", "saori.aoki@example.jp", "", "email", "dual_residence",
     "東京で会社員をしています。夏の2か月だけ苫小牧で暮らしてみたいのですが、短期で借りられる住まいはありますか。"
     "テレワークができる環境かどうかも知りたいです。", ""),
    ("Q-DEMO-4C5D", "in_progress", 4, "森田 健一", "", "090-1234-5678", "phone", "migration",
     "来年の春に家族4人で移住を考えています。小学生の子どもが2人いるので、学校や放課後の過ごし方について"
     "相談したいです。平日の夕方に電話をいただけると助かります。", ""),
    ("Q-DEMO-6E7F", "waiting", 6, "石川 由香", "yuka.ishikawa@example.jp", "", "email", "entry_pass",
     "エントリーパスの滞在期間を入力し間違えてしまいました。変更はできますか。",
     "石川 様\n\nお問い合わせありがとうございます。滞在期間は事務局で変更できます。"
     "正しいご滞在の日程（到着日と出発日）をこのメールへの返信でお知らせください。"),
    ("Q-DEMO-8G9H", "closed", 12, "村上 翔", "sho.murakami@example.jp", "", "email", "work",
     "苫小牧で副業やプロボノとして関われる仕事はありますか。",
     "村上 様\n\n地域プログラムの「まちの担い手」募集で、週末に参加できる活動をご紹介しています。"
     "ポータルのプログラム一覧もあわせてご覧ください。"),
]


async def load_inquiry_demo() -> dict[str, int]:
    """The demo inquiries with their threads, keyed by reference (no mail is sent for them)."""
    created = {"inquiries": 0}
    now = clock.now()
    for reference, status, days, name, email, phone, method, category, question, answer in DEMO_INQUIRIES:
        if await Inquiry.exists().where(Inquiry.reference == reference):
            continue
        asked = now - timedelta(days=days)
        answered = asked + timedelta(hours=20)
        async with atomic(Inquiry._meta.db):
            rows = await Inquiry.insert(Inquiry(
                reference=reference, name=name, email=email, phone=phone, contact_method=method, category=category,
                status=status, consent_version=CONSENT_VERSION, created_at=asked, updated_at=answered if answer else asked,
                last_message_at=answered if answer else asked,
            )).returning(Inquiry.id)
            messages = [InquiryMessage(inquiry=rows[0]["id"], kind="asker", body=question, channel="web", created_at=asked)]
            if answer:
                messages.append(InquiryMessage(inquiry=rows[0]["id"], kind="reply", body=answer, channel="email",
                                               created_at=answered))
            await InquiryMessage.insert(*messages)
        created["inquiries"] += 1
    return created


# A mail to the desk's address that answers no inquiry: the round opened it as an inquiry of category "mail",
# its quoted part kept with the whole mail (as the round reads it: ISO-2022-JP, as many phones still send).
MAIL_BODY = ("はじめまして。ワーケーションで来月1週間ほど苫小牧に滞在する予定です。\n"
             "市内でWi-Fiのあるコワーキングスペースを教えていただけますか。\n\n"
             "2026年11月28日 10:12 とまこまい つながる <news@city.tomakomai.example>:\n"
             "> ワーケーション特集を公開しました。\n")


async def load_mail_demo() -> dict[str, int]:
    """The mail, taken as the round takes one (once: the mail is known by its Message-ID afterwards)."""
    mail = MIMEText(MAIL_BODY, "plain", "iso-2022-jp")
    mail["From"] = formataddr(("山田 葵", "aoi.yamada@example.jp"), charset="iso-2022-jp")
    mail["Subject"] = "コワーキングスペースについて"
    mail["Message-ID"] = "<demo-workation-0001@example.jp>"
    mail["Date"] = format_datetime(clock.now() - timedelta(hours=3))
    post = contact.Post(Smtp(), await contact.load_desk(DESK["title"]), contact.round_links("http://localhost:8000"))
    outcome = await mail_replies.take("demo@imap.localhost:993/INBOX", 1, Fetched(1, mail.as_bytes(), True), post,
                                      Path(tempfile.gettempdir()), "ja", clock.now() - timedelta(hours=2))
    return {"inquiries_by_mail": int(outcome == "opened")}
