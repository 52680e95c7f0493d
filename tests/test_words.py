"""One vocabulary (docs/words.md): the Japanese catalogue, the templates, the demo content and the survey
templates never use a retired word, outside a short allow-list that says why."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from app.i18n import in_locale

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "app" / "locale" / "ja" / "LC_MESSAGES" / "messages.po"
JAPANESE = "\u3040-\u30ff\u3400-\u9fff々〜"

# word (a regular expression) → what we write instead
RETIRED = {
    "優待": "特典",
    "使用": "利用",
    "応募": "申し込み（申込期間・申込者）",
    "あなた": "no pronoun: お名前, ご自身, or nothing",
    "押して|押す|押し": "タップ",
    "プレミアム会員": "プレミアムふるさと住民",
    "ブラウザー": "ブラウザ",
    "いますぐ": "今すぐ",
    rf"\([^()]*[{JAPANESE}][^()]*\)": "full-width （）around Japanese text",
    r"\d+ (?:件|人|名|回|日|行|列|通|台|文字|分|か月)": "no space between a number and its counter",
    r"\)[ds] (?:件|人|名|回|日|行|列|通|台|文字|分|か月)": "no space between a number and its counter",
    r"[–~]": "〜 for ranges",
}
# Words members never read: on their pages a refusal is 今回は参加いただけません.
MEMBER_RETIRED = {"不採用": "今回は参加いただけません", "審査の結果": "申し込みの結果", "お返事待ち": "ご返信をお待ちしています"}

# (where, msgid or file) → why the word stays
ALLOWED = {
    ("使用", "In Zoom: Reports → Usage → Participants → Export. Members are matched by e-mail address or name; "
             "you see the result before anything is recorded."): "Zoom's own menu label ［使用状況］, quoted as the user sees it",
}
MEMBER_MSGIDS = {  # the member-facing labels of statuses, checked against MEMBER_RETIRED
    "Not accepted", "Waiting for your reply", "No news yet. Decisions, places that open up and announcements will "
    "appear here.",
}


def catalogue_entries() -> list[tuple[str, str]]:
    with CATALOGUE.open("rb") as file:
        catalogue = read_po(file)
    entries = []
    for message in catalogue:
        if not message.id:
            continue
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        entries.extend((msgid, string) for string in strings if string)
    return entries


def offences(text: str, where: str) -> list[str]:
    found = []
    for word, instead in RETIRED.items():
        for match in re.finditer(word, text):
            if (match.group(0), where) not in ALLOWED:
                found.append(f"{where!r}: {match.group(0)!r} (write {instead})")
    return found


def test_the_japanese_catalogue_uses_no_retired_word():
    found = [offence for msgid, string in catalogue_entries() for offence in offences(string, msgid)]
    assert not found, "\n".join(found)


def test_member_facing_statuses_are_in_member_words():
    strings = {msgid: string for msgid, string in catalogue_entries()}
    found = [f"{msgid!r}: {word} (write {instead})" for msgid in MEMBER_MSGIDS
             for word, instead in MEMBER_RETIRED.items() if word in strings[msgid]]
    assert not found, "\n".join(found)


def test_a_member_reads_a_refusal_and_the_organisers_their_own_word():
    from app.routes.programs.public import application_status_label

    with in_locale("ja", audience="member"):
        member = application_status_label("rejected")
    with in_locale("ja", audience="staff"):
        staff = application_status_label("rejected")
    assert "不採用" not in member and member != staff


def japanese_in_templates() -> list[tuple[str, str]]:
    """The text of every template outside its Jinja tags and comments: what is written there in Japanese."""
    tags = re.compile(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", re.S)
    return [(str(path.relative_to(ROOT)), tags.sub(" ", path.read_text(encoding="utf-8")))
            for path in sorted((ROOT / "app" / "templates").rglob("*.html"))]


def python_strings(*folders: str) -> list[tuple[str, str]]:
    """The Japanese content written in Python: the demo and the survey templates (comments are English)."""
    literal = re.compile(r"\"(?:[^\"\\\n]|\\.)*\"")
    files = [path for folder in folders for path in sorted((ROOT / folder).rglob("*.py"))]
    files.append(ROOT / "app" / "services" / "surveys" / "templates.py")
    return [(str(path.relative_to(ROOT)), "\n".join(m.group(0)[1:-1] for m in literal.finditer(path.read_text(encoding="utf-8"))
                                                     if re.search(f"[{JAPANESE}]", m.group(0))))
            for path in files]


@pytest.mark.parametrize("source", ["templates", "demo and survey templates"])
def test_templates_and_content_use_no_retired_word(source):
    texts = japanese_in_templates() if source == "templates" else python_strings("app/demo")
    found = [offence for where, text in texts for offence in offences(text, where)
             if re.search(f"[{JAPANESE}]", offence)]
    assert not found, "\n".join(found)


def test_survey_templates_ask_for_every_answer_that_applies():
    from app.services.surveys.templates import TEMPLATES

    for template in TEMPLATES.values():
        for question in template.questions:
            assert "いくつでも" not in question.text
            if question.kind == "multiple":
                assert question.text.endswith("（あてはまるものすべて）"), question.text


def test_the_check_finds_a_retired_word_where_it_is_not_allowed():
    assert offences("お店の優待です（2回まで）", "Some msgid") == ["'Some msgid': '優待' (write 特典)"]
    assert offences("最終使用", "Another msgid") and offences("残り 3 名 (定員)", "x")
