"""Reading a mail an asker sent to the desk: who sent it, what it answers, its text and its attachments.

Japanese mail comes in every encoding mail programs have used: ISO-2022-JP (JIS) from older phones and
Thunderbird, Shift_JIS from Outlook (in fact Windows' cp932, with ① and ㈱), UTF-8 from the rest, headers as
encoded words. The declared charset is tried first and strictly; when the bytes say otherwise (an "encoding
lie") the usual Japanese encodings are tried, and the mail is marked so staff know. Reading never raises:
whatever cannot be read is a problem code on the result, and the mail still reaches the desk. Control
characters (a NUL in a subject, UTF-16 text read as UTF-8) are dropped from everything kept, since PostgreSQL
would refuse the whole mail for one of them.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

import nh3

from app.i18n import lazy_gettext as _l
from app.services.desk.asking import REFERENCE_ALPHABET
from app.services.shared.text import clean_text

# What can be wrong with a mail, as staff read it next to the mail.
PROBLEMS = {
    "too_big": _l("The mail was too large to read; only its header was read. Open it in the mailbox."),
    "no_from": _l("The mail had no sender address."),
    "malformed": _l("Part of the mail was malformed and could not be read."),
    "encoding": _l("The mail's text was not in the encoding it declared; it was read as well as possible."),
    "no_text": _l("The mail had no text."),
    "attachment_refused": _l("An attachment was not kept (why is beside its name); the mail in the mailbox still has it."),
    "closed_reopened": _l("The inquiry was closed; this mail opened it again."),
    "other_sender": _l("The mail came from another address than the one the asker gave."),
    "automatic": _l("The mail was sent automatically (an absence notice or a delivery failure); it changed nothing "
                    "in the inquiry."),
}
# Windows' supersets of what mail headers declare: Outlook says Shift_JIS and sends cp932.
CHARSET_SUPERSETS = {"shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932",
                     "windows-31j": "cp932", "iso-2022-jp": "iso2022_jp_ext", "euc-jp": "euc_jis_2004"}
FALLBACK_CHARSETS = ("utf-8", "iso2022_jp_ext", "cp932", "euc_jis_2004")
REFERENCE = re.compile(r"Q-\d{4}-[" + REFERENCE_ALPHABET + "]{4}")
# No control characters: PostgreSQL refuses NUL in text, and the key is written before anything else is read.
MESSAGE_ID = re.compile(r"<[^<>\s\x00-\x1f\x7f]{1,250}>")
MAX_IDS = 50  # a References header longer than this names the oldest mails of a long thread: the newest suffice
MAX_ATTACHMENTS = 20
# Where a mail program begins the quoted mail: "On … wrote:", "2026年12月6日(土) 10:00 … <…>:", "…さんは書きました：",
# Outlook's "-----Original Message-----" and its header block "From: / 差出人:".
QUOTE_STARTS = re.compile(
    r"^(On .{1,200} wrote:|.{0,200}(書きました|のメッセージ)[:：]?|\d{4}[年/-]\d{1,2}[月/-]\d{1,2}.{0,200}[:：]"
    r"|-{2,}\s*(Original Message|元のメッセージ|Forwarded message|転送されたメッセージ)\s*-{2,}|(From|差出人)[:：] .+)\s*$")


@dataclass
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class ReadMail:
    message_key: str  # Message-ID, or a digest of the mail when it has none
    from_address: str = ""
    from_name: str = ""
    subject: str = ""
    answers: list[str] = field(default_factory=list)  # Message-IDs from In-Reply-To, then References (newest first)
    text: str = ""
    sent_at: datetime | None = None
    attachments: list[Attachment] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def problem(self, code: str) -> None:
        if code not in self.problems:
            self.problems.append(code)


def _is_automatic(mail: EmailMessage, result: ReadMail) -> bool:
    """An absence notice or a delivery failure (RFC 3834's Auto-Submitted, the older X-Autoreply and Precedence
    marks, a delivery report): nobody wrote it, so it must not reopen an inquiry or call its assignee."""
    auto_submitted = _header(mail, "Auto-Submitted", result).strip().lower()
    return bool((auto_submitted and auto_submitted != "no") or _header(mail, "X-Autoreply", result)
                or _header(mail, "X-Autorespond", result)
                or _header(mail, "Precedence", result).strip().lower() == "auto_reply"
                or mail.get_content_type() == "multipart/report")


def message_key(message_id: str, raw: bytes) -> str:
    return message_id[:300] if message_id else "sha256:" + hashlib.sha256(raw).hexdigest()


def references_in(subject: str) -> list[str]:
    """Reference numbers in a subject, also when a mail program made them full-width."""
    return REFERENCE.findall(unicodedata.normalize("NFKC", subject).upper())


def _header(mail: EmailMessage, name: str, result: ReadMail) -> str:
    try:
        return str(mail.get(name, "") or "")
    except Exception:  # a header the parser could not make sense of
        result.problem("malformed")
        return ""


def _sender(mail: EmailMessage, result: ReadMail) -> None:
    try:
        addresses = mail["From"].addresses if mail["From"] is not None else ()
    except Exception:
        addresses = ()
    if addresses and addresses[0].addr_spec and "@" in addresses[0].addr_spec:
        result.from_address = clean_text(addresses[0].addr_spec)[:254]
        result.from_name = clean_text(addresses[0].display_name or "")[:200]
    else:
        result.problem("no_from")


def decode_text(data: bytes, declared: str | None, result: ReadMail) -> str:
    charset = (declared or "utf-8").lower()
    tried = [CHARSET_SUPERSETS.get(charset, charset), *FALLBACK_CHARSETS]
    for index, name in enumerate(tried):
        try:
            text = data.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
        if "\x1b" in text and "2022" not in name:  # JIS is 7-bit: it "decodes" as UTF-8, escapes and all
            continue
        if index:
            result.problem("encoding")
        return text
    result.problem("encoding")
    return data.decode("utf-8", errors="replace")


def html_to_text(markup: str) -> str:
    """The words of an HTML mail: block ends become line breaks, then every tag goes (script and style with
    their content, by nh3), then entities are decoded. The result is plain text, shown escaped."""
    markup = re.sub(r"(?i)<br\s*/?>|</(p|div|li|tr|h[1-6]|blockquote)>", "\n", markup)
    text = html.unescape(nh3.clean(markup, tags=set()))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.strip() for line in text.splitlines())).strip()


def _body(mail: EmailMessage, result: ReadMail) -> None:
    try:
        part = mail.get_body(preferencelist=("plain", "html"))
    except Exception:
        part = None
        result.problem("malformed")
    if part is None:
        result.problem("no_text")
        return
    data = part.get_payload(decode=True) or b""
    text = decode_text(data, part.get_content_charset(), result)
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    result.text = clean_text(text)
    if not result.text:
        result.problem("no_text")


def _attachments(mail: EmailMessage, result: ReadMail) -> None:
    try:
        parts = list(mail.iter_attachments())
    except Exception:
        result.problem("malformed")
        return
    for part in parts[:MAX_ATTACHMENTS]:
        try:
            name = part.get_filename() or ""
        except Exception:
            name = ""
        data = b"" if part.is_multipart() else (part.get_payload(decode=True) or b"")
        result.attachments.append(Attachment(clean_text(name)[:200], part.get_content_type(), data))


def read_mail(raw: bytes, *, header_only: bool = False) -> ReadMail:
    """Everything the desk needs from a mail. `header_only`: the mail was too big to fetch, only its header
    came; it is marked so."""
    try:
        mail = message_from_bytes(raw, policy=policy.default)
    except Exception:
        result = ReadMail(message_key(b"", raw))
        result.problem("malformed")
        return result
    result = ReadMail("")
    message_id = MESSAGE_ID.search(_header(mail, "Message-ID", result))
    result.message_key = message_key(message_id.group() if message_id else "", raw)
    _sender(mail, result)
    result.subject = " ".join(clean_text(_header(mail, "Subject", result)).split())[:300]
    answers = MESSAGE_ID.findall(_header(mail, "In-Reply-To", result))
    answers += reversed(MESSAGE_ID.findall(_header(mail, "References", result)))
    result.answers = list(dict.fromkeys(answers))[:MAX_IDS]
    try:
        result.sent_at = parsedate_to_datetime(_header(mail, "Date", result))
        if result.sent_at.tzinfo is None:
            result.sent_at = None
    except (TypeError, ValueError, IndexError):
        result.sent_at = None
    if _is_automatic(mail, result):
        result.problem("automatic")
    if header_only:
        result.problem("too_big")
        return result
    _body(mail, result)
    _attachments(mail, result)
    if mail.defects:
        result.problem("malformed")
    return result


def without_quote(text: str) -> str:
    """What the asker wrote, without the mail they answer: lines quoted with ">" go, and so does everything from
    the line where their mail program starts quoting. When nothing is left (they wrote between the quoted
    lines, or only quoted), the whole text stays."""
    kept: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if QUOTE_STARTS.match(stripped):
            break
        if stripped.startswith((">", "＞")):
            continue
        kept.append(line)
    trimmed = "\n".join(kept).strip()
    return trimmed or text.strip()
