"""Fixed lists members choose from: prefectures (JIS X 0401), ties to the region, interests."""

from __future__ import annotations

from app.i18n import lazy_gettext as _l

PREFECTURES: tuple[tuple[str, str, str], ...] = (
    ("01", "北海道", "Hokkaido"), ("02", "青森県", "Aomori"), ("03", "岩手県", "Iwate"), ("04", "宮城県", "Miyagi"),
    ("05", "秋田県", "Akita"), ("06", "山形県", "Yamagata"), ("07", "福島県", "Fukushima"), ("08", "茨城県", "Ibaraki"),
    ("09", "栃木県", "Tochigi"), ("10", "群馬県", "Gunma"), ("11", "埼玉県", "Saitama"), ("12", "千葉県", "Chiba"),
    ("13", "東京都", "Tokyo"), ("14", "神奈川県", "Kanagawa"), ("15", "新潟県", "Niigata"), ("16", "富山県", "Toyama"),
    ("17", "石川県", "Ishikawa"), ("18", "福井県", "Fukui"), ("19", "山梨県", "Yamanashi"), ("20", "長野県", "Nagano"),
    ("21", "岐阜県", "Gifu"), ("22", "静岡県", "Shizuoka"), ("23", "愛知県", "Aichi"), ("24", "三重県", "Mie"),
    ("25", "滋賀県", "Shiga"), ("26", "京都府", "Kyoto"), ("27", "大阪府", "Osaka"), ("28", "兵庫県", "Hyogo"),
    ("29", "奈良県", "Nara"), ("30", "和歌山県", "Wakayama"), ("31", "鳥取県", "Tottori"), ("32", "島根県", "Shimane"),
    ("33", "岡山県", "Okayama"), ("34", "広島県", "Hiroshima"), ("35", "山口県", "Yamaguchi"), ("36", "徳島県", "Tokushima"),
    ("37", "香川県", "Kagawa"), ("38", "愛媛県", "Ehime"), ("39", "高知県", "Kochi"), ("40", "福岡県", "Fukuoka"),
    ("41", "佐賀県", "Saga"), ("42", "長崎県", "Nagasaki"), ("43", "熊本県", "Kumamoto"), ("44", "大分県", "Oita"),
    ("45", "宮崎県", "Miyazaki"), ("46", "鹿児島県", "Kagoshima"), ("47", "沖縄県", "Okinawa"),
    ("99", "海外", "Outside Japan"),
)
PREFECTURE_CODES = frozenset(code for code, _ja, _en in PREFECTURES)
# The eight regions as Japanese maps and weather reports group the prefectures, and abroad: (key, ja, en, codes).
REGIONS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("hokkaido", "北海道", "Hokkaido", ("01",)),
    ("tohoku", "東北", "Tohoku", ("02", "03", "04", "05", "06", "07")),
    ("kanto", "関東", "Kanto", ("08", "09", "10", "11", "12", "13", "14")),
    ("chubu", "中部", "Chubu", ("15", "16", "17", "18", "19", "20", "21", "22", "23")),
    ("kinki", "近畿", "Kinki", ("24", "25", "26", "27", "28", "29", "30")),
    ("chugoku", "中国", "Chugoku", ("31", "32", "33", "34", "35")),
    ("shikoku", "四国", "Shikoku", ("36", "37", "38", "39")),
    ("kyushu", "九州・沖縄", "Kyushu and Okinawa", ("40", "41", "42", "43", "44", "45", "46", "47")),
    ("abroad", "海外", "Outside Japan", ("99",)),
)


def with_regions(prefectures: list[str], regions: list[str]) -> list[str]:
    """The prefectures chosen one by one and those of each region chosen whole, in JIS order, each once."""
    chosen = set(prefectures)
    for key, _ja, _en, codes in REGIONS:
        if key in regions:
            chosen.update(codes)
    return [code for code, _ja, _en in PREFECTURES if code in chosen]


def prefecture_name(code: str, locale: str = "ja") -> str:
    for value, ja, en in PREFECTURES:
        if value == code:
            return ja if locale == "ja" else en
    return ""


# How a person is tied to the region: several allowed (seed 004: furusato tax, workation, migration…).
TIES = {
    "furusato_tax": _l("I made a furusato tax donation"),
    "workation": _l("I came for a workation"),
    "visitor": _l("I visit as a tourist"),
    "products": _l("I buy local products"),
    "former_resident": _l("I used to live here"),
    "family": _l("I have family or relatives here"),
    "dual_residence": _l("I am considering dual residence"),
    "migration": _l("I am considering moving here"),
    "other": _l("Other"),
}

INTERESTS = {
    "agriculture": _l("Farming and food"),
    "tourism": _l("Tourism"),
    "vacant_houses": _l("Vacant houses and town planning"),
    "education": _l("Education and child-rearing"),
    "nature": _l("Nature and the outdoors"),
    "business": _l("Work and starting a business"),
    "culture": _l("Culture and festivals"),
    "welfare": _l("Welfare and health care"),
}
