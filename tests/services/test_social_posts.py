"""Texts for the official accounts: X's weighted length respected however long the summary, the page's link and
the region's hashtags in each (each account's own campaign link), Japanese dates whatever language the staff member reads."""

from __future__ import annotations

from datetime import datetime, timezone

from app.i18n import in_locale
from app.services.shared import social_posts
from app.services.shared.social_posts import x_length

URL = "https://tsunagu.example.jp/programs/12"
LINKS = {channel: f"https://tsunagu.example.jp/c/sns-{channel}?to=%2Fprograms%2F12"
         for channel in ("x", "facebook", "instagram", "line")}


def test_x_counts_japanese_twice_and_a_link_as_23():
    assert x_length("abc") == 3 and x_length("苫小牧") == 6 and x_length(f"見て {URL}") == 4 + 1 + 23
    assert x_length("（）「」") == 8 and x_length("—") == 1


def test_every_post_carries_the_link_and_the_hashtags_and_x_fits_however_long_the_summary():
    starts = datetime(2026, 12, 12, 1, 0, tzinfo=timezone.utc)
    ends = datetime(2026, 12, 12, 6, 0, tzinfo=timezone.utc)
    with in_locale("en", "staff"):
        posts = social_posts.posts("樽前の空き家再生ワークショップ", "空き家の床張りと壁塗りを体験します。" * 20, LINKS,
                                   "苫小牧市", "樽前 地区", starts, ends, "樽前ガロー")
    by_channel = {post.channel: post for post in posts}
    assert set(by_channel) == {"x", "facebook", "instagram", "line"}
    x = by_channel["x"]
    assert x.length == x_length(x.text) <= 280 and "…" in x.text and LINKS["x"] in x.text
    assert "#苫小牧市 #関係人口 #樽前地区" in x.text
    assert "12月12日（土）10:00" in x.text and "樽前ガロー" in x.text  # members' Japanese dates, not staff's
    assert LINKS["facebook"] in by_channel["facebook"].text and "詳細・お申し込みはこちら" in by_channel["facebook"].text
    assert "https://" not in by_channel["instagram"].text and "プロフィールのリンク" in by_channel["instagram"].text
    assert by_channel["line"].text.endswith(LINKS["line"])


def test_a_short_summary_is_kept_whole():
    [x, *_rest] = social_posts.posts("交流会", "オンラインで話しましょう。", LINKS, "苫小牧市")
    assert "オンラインで話しましょう。" in x.text and "…" not in x.text
