"""Who acts on a program, an article or a change: built in one place, asked one question about areas."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Account(Protocol):
    id: int
    role: str
    area_id: int | None


@dataclass(frozen=True)
class Actor:
    """An account id, its role, and for an editor the one area they work for."""

    account_id: int
    role: str
    area_id: int | None = None

    @classmethod
    def of(cls, account: Account) -> Actor:
        """The one way from a logged-in account to an Actor: only an editor carries an area."""
        return cls(account.id, account.role, account.area_id if account.role == "editor" else None)

    @property
    def is_editor(self) -> bool:
        return self.role == "editor"

    def may_manage(self, area_id: int | None) -> bool:
        """Staff manage every area; an editor only their own; nobody else manages any."""
        return self.role == "staff" or (self.role == "editor" and area_id is not None and area_id == self.area_id)

    def outside_area(self, area_id: int | None) -> bool:
        """An editor acting on another area's item: refused as not_your_area (other roles have no area to
        be outside of; the workflow's own rules decide for them)."""
        return self.is_editor and not self.may_manage(area_id)
