"""Reading a mail without a server: the quoted mail trimmed for display, encodings that lie, HTML made text."""

from __future__ import annotations

from app.services.desk.mail_reading import ReadMail, decode_text, html_to_text, references_in, without_quote


def test_the_quote_is_trimmed_after_each_mail_programs_own_opening():
    for opening in ("On Sat, 6 Dec 2026 at 10:00, Desk <desk@example.jp> wrote:",
                    "-----Original Message-----", "差出人: ふるさと住民 相談窓口", "花子さんは書きました："):
        assert without_quote(f"はい、伺います。\n\n{opening}\n前のメールの本文") == "はい、伺います。"


def test_lines_quoted_with_a_bracket_go_and_a_mail_that_is_only_quote_stays_whole():
    assert without_quote("> 前の質問\n答えです。\n＞ 全角の引用") == "答えです。"
    assert without_quote("> 引用だけ") == "> 引用だけ"


def test_a_mail_declared_utf8_but_written_in_jis_or_cp932_is_read_and_marked():
    for text, data in (("お試し住宅", "お試し住宅".encode("iso2022_jp")), ("お試し住宅①", "お試し住宅①".encode("cp932"))):
        mail = ReadMail("")
        assert decode_text(data, "utf-8", mail) == text
        assert mail.problems == ["encoding"]


def test_html_becomes_text_without_its_scripts_and_references_are_found_full_width_too():
    assert html_to_text("<p>見学&amp;相談</p><script>alert(1)</script><style>p{}</style>") == "見学&相談"
    assert references_in("Re: 受付番号 Ｑ－２６１１－７Ｋ３Ｍ") == ["Q-2611-7K3M"]
