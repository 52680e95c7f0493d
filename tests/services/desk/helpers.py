"""What the desk's service tests share: the desk's address, a secretariat member, and short ways to read an
inquiry's messages and status or the error a step is refused with."""

from __future__ import annotations

import io
import itertools
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from pathlib import Path

import pytest
from PIL import Image

from app.services.desk import mail_replies, validation
from app.services.desk.common import InquiryInvalid, InquiryRefused
from app.services.desk.mailbox import Fetched
from app.services.shared import clock
from app.settings import Smtp
from db.tables import DeskMail, Inquiry, InquiryMessage
from tests import factories

DESK_EMAIL = "desk@tomakomai.example"
LINKS = factories.desk_post().links
_uids = itertools.count(1)


def smtp_on(port: int) -> Smtp:
    return Smtp(host="127.0.0.1", port=port, starttls=False, mail_from="no-reply@tomakomai.example")


async def staff_member(name: str = "事務局 佐藤", email: str = "") -> int:
    """A secretariat account; with `email`, a confirmed address that gets the desk's mail."""
    fields = {"email": email, "email_verified_at": clock.now()} if email else {}
    return await factories.staff_account(name, **fields)


async def invalid(form: dict, **kwargs) -> dict[str, str]:
    with pytest.raises(InquiryInvalid) as caught:
        await validation.validate_inquiry(form, **kwargs)
    return caught.value.errors


async def refused(action) -> str:
    with pytest.raises(InquiryRefused) as caught:
        await action
    return caught.value.reason


async def messages(inquiry_id: int) -> list[dict]:
    return await InquiryMessage.select().where(InquiryMessage.inquiry == inquiry_id).order_by(InquiryMessage.id)


async def status_of(inquiry_id: int) -> str:
    return (await Inquiry.select(Inquiry.status).where(Inquiry.id == inquiry_id).first())["status"]


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (11, 110, 105)).save(out, "PNG")
    return out.getvalue()


async def mailed_photo(reference: str, var_dir: Path, when=None) -> Path:
    """The asker answers the inquiry by mail with a photo, taken as the mailbox round takes a fetched mail (the
    round itself is tested against a real IMAP server in test_mail_replies.py); the photo's file on disk."""
    mail = EmailMessage()
    mail["From"], mail["Subject"] = formataddr(("二地域 花子", "hanako@example.jp")), f"写真 {reference}"
    mail["Message-ID"] = make_msgid(domain="example.jp")
    mail.set_content("部屋の写真です。")
    mail.add_attachment(png(), maintype="image", subtype="png", filename="部屋.png")
    outcome = await mail_replies.take("desk@imap.example:993/INBOX", 1, Fetched(next(_uids), mail.as_bytes(), True),
                                      factories.desk_post(), var_dir, "ja", when or clock.now())
    assert outcome == "threaded"
    kept = await DeskMail.select(DeskMail.attachments).where(DeskMail.message_key == mail["Message-ID"]).first(
    ).output(load_json=True)
    path = var_dir / "uploads" / kept["attachments"][0]["url"].rsplit("/", 1)[1]
    assert path.is_file()
    return path
