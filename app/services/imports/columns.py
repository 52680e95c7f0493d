"""Which column of a registrant file holds what: the fields an import can fill, and a first guess from the
headers Japanese registration systems, CRMs and Excel templates use. The staff see the guess preselected and
correct it; nothing is imported on a guess alone."""

from __future__ import annotations

import re
import unicodedata

from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.services.shared.refusals import Refusal

FIELDS = {
    "external_id": _l("ID in the source system"),
    "email": _l("E-mail address"),
    "full_name": _l("Full name (family and given name in one column)"),
    "family_name": _l("Family name"),
    "given_name": _l("Given name"),
    "full_kana": _l("Full name in kana"),
    "family_name_kana": _l("Family name in kana"),
    "given_name_kana": _l("Given name in kana"),
    "display_name": _l("Display name"),
    "home_prefecture": _l("Prefecture of residence"),
    "home_municipality": _l("Municipality of residence"),
}

# Headers as normalise() leaves them. Exact matches are tried first, over every column, then the looser
# "contains" words below, so 姓（フリガナ） is the family name's kana and not the family name.
EXACT = {
    "external_id": {"会員id", "会員番号", "id", "登録id", "登録番号", "管理番号", "顧客id", "取引先責任者id", "contactid",
                    "externalid", "memberid", "ふるさと住民id", "ふるさと住民番号", "住民id"},
    "email": {"メールアドレス", "メール", "eメール", "eメールアドレス", "email", "emailaddress", "mail", "mailaddress",
              "電子メール", "電子メールアドレス", "ユーザーメール", "useremail"},
    "full_name": {"氏名", "名前", "お名前", "氏名(漢字)", "氏名漢字", "フルネーム", "name", "fullname"},
    "family_name": {"姓", "氏", "苗字", "名字", "姓(漢字)", "lastname", "familyname"},
    "given_name": {"名", "名(漢字)", "firstname", "givenname"},
    "full_kana": {"フリガナ", "ふりがな", "よみがな", "ヨミガナ", "カナ", "氏名(フリガナ)", "氏名フリガナ", "氏名(カナ)",
                  "氏名カナ", "フリガナ(氏名)", "氏名(ふりがな)", "kana"},
    "family_name_kana": {"セイ", "せい", "姓(フリガナ)", "姓フリガナ", "姓(カナ)", "姓カナ", "フリガナ(姓)", "姓(ふりがな)",
                         "lastnamekana"},
    "given_name_kana": {"メイ", "めい", "名(フリガナ)", "名フリガナ", "名(カナ)", "名カナ", "フリガナ(名)", "名(ふりがな)",
                        "firstnamekana"},
    "display_name": {"ニックネーム", "表示名", "ハンドルネーム", "nickname", "displayname"},
    "home_prefecture": {"都道府県", "都道府県名", "住所(都道府県)", "居住都道府県", "お住まいの都道府県", "現住所(都道府県)",
                        "prefecture"},
    "home_municipality": {"市区町村", "市町村", "市区町村名", "住所(市区町村)", "居住市区町村", "お住まいの市区町村",
                          "現住所(市区町村)", "city"},
}
CONTAINS = (
    ("email", ("メール", "mail")),
    ("home_prefecture", ("都道府県",)),
    ("home_municipality", ("市区町村", "市町村")),
    ("full_kana", ("フリガナ", "ふりがな", "カナ", "よみがな")),
    ("external_id", ("会員id", "会員番号", "登録番号")),
    ("full_name", ("氏名", "名前")),
)
SPACES = re.compile(r"[\s_\-・:：]+")


class MappingRefused(Refusal):
    """no_key | bad_column"""

    def messages(self):
        return {
            "no_key": _("Choose the column with the e-mail address or the one with the name."),
            "bad_column": _("Choose columns from the list."),
        }


def normalise(header: str) -> str:
    return SPACES.sub("", unicodedata.normalize("NFKC", header).lower())


def guess(headers: tuple[str, ...] | list[str]) -> dict[str, int]:
    """field → column index, each field and each column at most once."""
    names = [normalise(h) for h in headers]
    found: dict[str, int] = {}
    for field_name, words in EXACT.items():
        for index, name in enumerate(names):
            if name in words and index not in found.values():
                found[field_name] = index
                break
    for field_name, parts in CONTAINS:
        if field_name in found:
            continue
        for index, name in enumerate(names):
            if index not in found.values() and any(part in name for part in parts):
                found[field_name] = index
                break
    return found


def from_form(form: dict, headers: tuple[str, ...]) -> dict[str, int]:
    """The mapping the staff chose (a column index per field, "" for none). Raises MappingRefused."""
    mapping: dict[str, int] = {}
    for field_name in FIELDS:
        value = str(form.get(field_name) or "").strip()
        if not value:
            continue
        if not value.isdecimal() or len(value) > 3 or int(value) >= len(headers):
            raise MappingRefused("bad_column", field=field_name)
        mapping[field_name] = int(value)
    if not ({"email", "full_name", "family_name"} & mapping.keys()):
        raise MappingRefused("no_key")
    return mapping


def as_form(mapping: dict[str, int]) -> dict[str, str]:
    """The mapping as the form's fields carry it from one step to the next."""
    return {field_name: str(mapping[field_name]) if field_name in mapping else "" for field_name in FIELDS}
