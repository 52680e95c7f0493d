"""The two ways a rule says no, shared by every domain.

- `Refusal`: a step the rules do not allow now. A stable `reason` code (tests, logs and pages key on it,
  as pretix's `CheckInError(msg, code)`), the form field it concerns if any, and `details` for the words.
  `message` gives the words in the person's language when the domain names them in `messages()`; a page
  may still word a code its own way.
- `FormInvalid`: what was typed cannot be accepted. A message per field ("form" for the form as a whole)
  and the values as typed, so the page shows the form again with nothing lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.i18n import gettext as _


class Refusal(Exception):
    def __init__(self, reason: str, field: str = "", **details: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field
        self.details = details

    def messages(self) -> Mapping[str, str]:
        """reason → words; only the subclasses that word their own codes name them."""
        return {}

    @property
    def message(self) -> str:
        return self.messages().get(self.reason) or _("This is not possible right now. Reload the page and try again.")


class FormInvalid(Exception):
    def __init__(self, errors: dict[str, str], values: Any = None) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors
        self.values = values
