"""The one file reader of both imports: UTF-8 with or without a BOM and Shift_JIS told apart by the bytes, a
bad row costing that row only, ragged rows, and a clear refusal for what cannot be read."""

from __future__ import annotations

import codecs

import pytest

from app.services.imports import reader
from app.services.imports.reader import FileRefused

ROWS = ["メールアドレス,姓,名,セイ,メイ", "hanako@example.jp,山田,花子,ヤマダ,ハナコ", "taro@example.jp,佐藤,太郎,サトウ,タロウ",
        "jiro@example.jp,髙橋,次郎,タカハシ,ジロウ", "saburo@example.jp,鈴木,三郎,スズキ,サブロウ"]


def refusal(data: bytes, **kwargs) -> str:
    with pytest.raises(FileRefused) as caught:
        reader.read_table(data, **kwargs)
    return caught.value.reason


def test_a_shift_jis_file_with_a_bad_byte_in_one_row_loses_that_row_only():
    lines = [line.encode("cp932") for line in ROWS]
    lines[2] = b"taro@example.jp,\x81\xff\x82,\x83,x,y"  # a damaged row: no character has these bytes
    table = reader.read_table(b"\r\n".join(lines) + b"\r\n")
    assert table.encoding == "cp932"
    assert table.headers == ("メールアドレス", "姓", "名", "セイ", "メイ")
    assert [(row.number, row.problem) for row in table.rows] == [(2, ""), (3, "unreadable"), (4, ""), (5, "")]
    assert table.rows[2].cells[1] == "髙橋"  # an IBM extension character cp932 has and plain Shift_JIS has not
    assert table.problems == {"unreadable": 1}


def test_a_utf8_file_with_a_bom_and_a_bad_byte_in_one_row_loses_that_row_only():
    lines = [line.encode("utf-8") for line in ROWS]
    lines[3] = "jiro@example.jp,髙橋,".encode() + b"\xe6\xac" + ",タカハシ,ジロウ".encode()  # cut in the middle
    table = reader.read_table(codecs.BOM_UTF8 + b"\n".join(lines))
    assert table.encoding == "utf-8-sig"
    assert table.headers[0] == "メールアドレス"  # no BOM left on the first header
    assert [row.problem for row in table.rows] == ["", "", "unreadable", ""]


def test_utf8_without_a_bom_is_read_as_utf8():
    table = reader.read_table("\n".join(ROWS).encode("utf-8"))
    assert (table.encoding, table.rows[0].cells[1]) == ("utf-8", "山田")


def test_ragged_rows_are_padded_and_extra_cells_marked_but_blank_lines_and_trailing_empty_cells_are_fine():
    text = "email,姓,名\na@example.jp,山田\n\nb@example.jp,佐藤,太郎,,\nc@example.jp,鈴木,一郎,余計\n"
    table = reader.read_table(text.encode())
    assert [row.cells for row in table.rows[:2]] == [("a@example.jp", "山田", ""), ("b@example.jp", "佐藤", "太郎")]
    assert [(row.number, row.problem) for row in table.rows] == [(2, ""), (4, ""), (5, "ragged")]


def test_full_width_letters_and_half_width_kana_are_read_as_meant():
    table = reader.read_table("email,セイ\nｈａｎａｋｏ＠example.jp,ﾔﾏﾀﾞ\n".encode("cp932"))
    assert table.rows[0].cells == ("hanako@example.jp", "ヤマダ")


def test_undecodable_bytes_are_refused():
    garbage = bytes(range(0x80, 0x100))
    assert refusal(b"a,b\n" + b"\n".join([garbage] * 10)) == "undecodable"
    assert refusal(b"a,b\n" + garbage * 40) == "undecodable"  # one long broken cell


def test_a_binary_file_or_utf16_is_refused_as_not_text():
    assert refusal(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR") == "not_text"
    assert refusal("名前,メール\n".encode("utf-16")) == "not_text"


def test_too_many_rows_too_big_and_empty_files_are_refused():
    assert refusal(("a,b\n" + "1,2\n" * 11).encode(), max_rows=10) == "too_many_rows"
    assert refusal(b"a,b\n" + b"x" * (reader.MAX_BYTES + 1)) == "too_big"
    assert refusal(b"") == "empty"
    assert refusal(b"\n\n") == "no_header"
    assert refusal(b"a,b\n") == "no_rows"


def test_a_header_can_be_looked_for_below_a_preamble():
    text = "Topic,ID\n交流会,123\n\nName,Email\n山田,y@example.jp\n"
    table = reader.read_table(text.encode(), is_header=lambda cells: "Email" in cells)
    assert (table.headers, table.rows[0].number) == (("Name", "Email"), 5)


def test_a_quoted_cell_with_a_line_break_and_a_comma_is_one_cell():
    table = reader.read_table('名前,メモ\n山田,"一行目\n二行目, 続き"\n'.encode())
    assert table.rows[0].cells[1] == "一行目\n二行目, 続き"
