"""The console's one search box: a member (number, name, e-mail), an inquiry (reference, name, what was written)
or a program (title), each list as its own page would find it."""

from __future__ import annotations

from dataclasses import dataclass

from app.services.desk import inbox
from app.services.membership import membership
from app.services.programs import reads

TERM_MAX = 50
FOUND_MAX = 20


@dataclass(frozen=True)
class Found:
    term: str
    members: list[dict]
    inquiries: list[dict]
    programs: list[dict]

    @property
    def count(self) -> int:
        return len(self.members) + len(self.inquiries) + len(self.programs)


async def find(text: str, account_id: int) -> Found:
    term = text.strip()[:TERM_MAX]
    if not term:
        return Found("", [], [], [])
    return Found(
        term,
        await membership.search_members(term, FOUND_MAX),
        await inbox.inbox(inbox.InboxFilter(status="all", q=term, sort="newest").cleaned(), account_id, limit=FOUND_MAX),
        await reads.programs_titled(term, FOUND_MAX),
    )
