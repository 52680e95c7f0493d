"""What the desk's service tests share: the desk's address, a secretariat member, and short ways to read an
inquiry's messages and status or the error a step is refused with."""

from __future__ import annotations

import pytest

from app.services.desk import validation
from app.services.desk.common import InquiryInvalid, InquiryRefused
from app.services.shared import clock
from app.settings import Smtp
from db.tables import Inquiry, InquiryMessage
from tests import factories

DESK_EMAIL = "desk@tomakomai.example"
LINKS = factories.desk_post().links


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
