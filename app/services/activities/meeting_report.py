"""Attendance at an online 交流会 or online activity, from the meeting service's participant report (Zoom's CSV):
read with the imports' file reader, each participant matched to a member, previewed, then recorded as check-ins
(method "import") for the day in Japan they joined.

Zoom writes the report in the account's language — 名前（元の名前）, ユーザー メール, 参加時刻, 退出時刻, 期間（分） or
Name (Original Name), User Email, Join Time, Leave Time, Duration (Minutes) — as UTF-8 with a BOM, and with
"include meeting data" the meeting's own details come first, above the participants' header. A participant is
matched by e-mail address, then by the exact display name of one member, then by one member's family and given
name (the name people type into Zoom is often their real one). One who left and joined again is in the report
twice and counts once a day. Who matches no member is listed, so the organiser can record them by hand.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime

from app.i18n import TOKYO, to_tokyo
from app.i18n import gettext as _
from app.services.activities.check_ins import CheckInRefused, from_report
from app.services.imports import reader
from app.services.imports.columns import normalise
from app.services.shared import clock
from app.services.shared.actor import Actor
from db.tables import AuditLog, CheckIn, Member

MAX_ROWS = 3000  # Zoom's largest webinar has 1000 attendees; people rejoin
HEADERS = {
    "name": {"名前(元の名前)", "name(originalname)", "名前", "name", "参加者", "participant"},
    "email": {"ユーザーメール", "useremail", "メール", "メールアドレス", "email"},
    "joined": {"参加時刻", "jointime", "参加日時"},
    "left": {"退出時刻", "leavetime"},
    "minutes": {"期間(分)", "duration(minutes)", "合計期間(分)", "totalduration(minutes)"},
}
TIME_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M",
                "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M")
ORIGINAL = re.compile(r"^(?P<shown>.*?)\s*\((?P<original>[^()]*)\)$")


def columns_of(headers: tuple[str, ...]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, header in enumerate(headers):
        name = normalise(header)
        for key, words in HEADERS.items():
            if key not in found and name in words:
                found[key] = index
    return found


def _is_header(cells: tuple[str, ...]) -> bool:
    found = columns_of(cells)
    return "name" in found and ("email" in found or "joined" in found)


def read(data: bytes) -> tuple[reader.Table, dict[str, int]]:
    """The report's table and where its columns are. Raises FileRefused ("no_header" when it is no report)."""
    table = reader.read_table(data, max_rows=MAX_ROWS, is_header=_is_header)
    found = columns_of(table.headers)
    if "joined" not in found:
        raise reader.FileRefused("no_header")
    return table, found


def joined_at(text: str) -> datetime | None:
    """A report's time, written in Japan time by a Japanese account (in either of Zoom's formats)."""
    for pattern in TIME_FORMATS:
        try:
            return datetime.strptime(text.strip(), pattern).replace(tzinfo=TOKYO)
        except ValueError:
            continue
    return None


@dataclass
class Participant:
    row: int
    name: str
    email: str
    joined_at: datetime | None
    minutes: str = ""
    day: date | None = None
    member: dict | None = None  # id, member_no, display_name
    matched_by: str = ""  # email | display_name | name
    outcome: str = ""  # check_in | already | repeated | outside | unmatched | error
    problem: str = ""


@dataclass
class Report:
    participants: list[Participant] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for p in self.participants if p.outcome == outcome)

    @property
    def counts(self) -> dict[str, int]:
        return {o: self.count(o) for o in ("check_in", "already", "repeated", "outside", "unmatched", "error")}


def outcome_labels() -> dict[str, str]:
    return {
        "check_in": _("Will be checked in"),
        "already": _("Already checked in that day"),
        "repeated": _("Joined again the same day (counted once)"),
        "outside": _("Joined on a day outside the activity's period"),
        "unmatched": _("No member matches"),
        "error": _("Could not be read"),
    }


def _plain(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if not ch.isspace()).lower()


class _Members:
    def __init__(self, rows: list[dict]) -> None:
        self.by: dict[str, dict[str, list[dict]]] = {"email": {}, "display_name": {}, "name": {}}
        for row in rows:
            member = {"id": row["id"], "member_no": row["member_no"], "display_name": row["display_name"]}
            keys = {"email": (row["email"] or "").lower(), "display_name": _plain(row["display_name"]),
                    "name": _plain(row["family_name"] + row["given_name"]) if row["family_name"] else ""}
            for how, key in keys.items():
                if key:
                    self.by[how].setdefault(key, []).append(member)

    def find(self, name: str, email: str) -> tuple[dict | None, str]:
        """A member, and how: one member only, never a guess between two."""
        names = [name]
        shown = ORIGINAL.match(name)
        if shown:  # "花子 (山田 花子)": the name shown in the meeting, then the account's original name
            names = [shown["shown"], shown["original"]]
        tries = [("email", email.lower())] + [(how, _plain(n)) for n in names for how in ("display_name", "name")]
        for how, key in tries:
            found = self.by[how].get(key) if key else None
            if found and len(found) == 1:
                return found[0], how
        return None, ""


async def preview(activity: dict, data: bytes) -> Report:
    """What recording the report would do. Writes nothing. Raises FileRefused."""
    table, where = read(data)
    rows = await Member.select(Member.id, Member.member_no, Member.family_name, Member.given_name,
                               Member.account.email.as_alias("email"),
                               Member.account.display_name.as_alias("display_name")).where(
        Member.account.status == "active")
    members = _Members(rows)
    done = {(row["member"], row["day"]) for row in await CheckIn.select(CheckIn.member, CheckIn.day).where(
        CheckIn.activity == activity["id"])}
    report = Report()
    seen: set[tuple[int, date]] = set()
    for row in table.rows:
        cell = {key: row.cells[index] for key, index in where.items()}
        person = Participant(row.number, cell.get("name", ""), cell.get("email", ""), joined_at(cell.get("joined", "")),
                             cell.get("minutes", ""))
        report.participants.append(person)
        if row.problem or person.joined_at is None:
            person.outcome, person.problem = "error", row.problem or "no_time"
            continue
        person.day = to_tokyo(person.joined_at).date()
        person.member, person.matched_by = members.find(person.name, person.email)
        if person.member is None:
            person.outcome = "unmatched"
        elif not activity["starts_on"] <= person.day <= activity["ends_on"]:
            person.outcome = "outside"
        elif (person.member["id"], person.day) in seen:
            person.outcome = "repeated"
        else:
            seen.add((person.member["id"], person.day))
            person.outcome = "already" if (person.member["id"], person.day) in done else "check_in"
    return report


async def record(activity: dict, actor: Actor, data: bytes, filename: str, sha256: str,
                 now: datetime | None = None) -> dict[str, int]:
    """Record the report's check-ins; returns the counts (recorded, already, refused, unmatched, outside)."""
    now = now or clock.now()
    report = await preview(activity, data)
    counts = {"recorded": 0, "already": report.count("already"), "refused": 0, "unmatched": report.count("unmatched"),
              "outside": report.count("outside"), "error": report.count("error")}
    for person in report.participants:
        if person.outcome != "check_in":
            continue
        try:
            recorded = await from_report(activity["id"], person.member["id"], person.day, person.joined_at, actor)
        except CheckInRefused:  # full, or called off meanwhile
            counts["refused"] += 1
            continue
        counts["recorded" if recorded.first else "already"] += 1
    await AuditLog.insert(AuditLog(actor=actor.account_id, action="check_in.import", target_type="activity",
                                   target_id=str(activity["id"]),
                                   detail={"source": filename, "sha256": sha256, **counts}, created_at=now))
    return counts

