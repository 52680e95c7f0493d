"""Where registrants come from: the one small interface an import reads (`RegistrantSource`), and the CSV file
behind it today. An API client for the national system would be a second class with the same two attributes
and one method; the rules in registrants.py do not change."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from app.services.imports.reader import Table


@dataclass(frozen=True)
class Registrant:
    """One person as a source gives them: text as written (tidied), nothing checked yet."""

    row: int  # where the person is in the source (the spreadsheet's row number), for the messages
    external_id: str = ""
    email: str = ""
    family_name: str = ""
    given_name: str = ""
    family_name_kana: str = ""
    given_name_kana: str = ""
    display_name: str = ""
    home_prefecture: str = ""  # a code, a name (東京都, 東京) or an English name, as the source writes it
    home_municipality: str = ""
    unreadable: str = ""  # the source could not read this record ("unreadable", "ragged"): nothing else is used


class RegistrantSource(Protocol):
    """Where registrants come from: a mapped CSV file today, an API tomorrow."""

    label: str  # what the audit log calls it: the file's name, the API's name
    fingerprint: str  # what identifies this content: the file's SHA-256

    def registrants(self) -> Iterator[Registrant]: ...


@dataclass(frozen=True)
class CsvRegistrants:
    """A CSV file's rows, read through the columns the staff chose (columns.from_form)."""

    table: Table
    mapping: dict[str, int]
    label: str
    fingerprint: str

    def registrants(self) -> Iterator[Registrant]:
        for row in self.table.rows:
            if row.problem:
                yield Registrant(row.number, unreadable=row.problem)
                continue
            values = {name: row.cells[index] for name, index in self.mapping.items()}
            family, given = values.get("family_name", ""), values.get("given_name", "")
            if not (family or given) and values.get("full_name"):
                family, given = split_name(values["full_name"])
            family_kana, given_kana = values.get("family_name_kana", ""), values.get("given_name_kana", "")
            if not (family_kana or given_kana) and values.get("full_kana"):
                family_kana, given_kana = split_name(values["full_kana"])
            yield Registrant(
                row.number, external_id=values.get("external_id", ""), email=values.get("email", "").lower(),
                family_name=family, given_name=given, family_name_kana=family_kana, given_name_kana=given_kana,
                display_name=values.get("display_name", ""), home_prefecture=values.get("home_prefecture", ""),
                home_municipality=values.get("home_municipality", ""),
            )

    def mapped_headers(self) -> dict[str, str]:
        return {name: self.table.headers[index] for name, index in self.mapping.items()}


def split_name(full: str) -> tuple[str, str]:
    """山田 太郎 → (山田, 太郎): family name first, split at the first space (half- or full-width); without a
    space the whole is the family name."""
    parts = full.replace("\u3000", " ").split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1].strip() if len(parts) > 1 else ""
