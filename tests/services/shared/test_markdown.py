"""Markdown from editors becomes HTML that cannot run script, frame other sites or smuggle raw HTML."""

import pytest
from markupsafe import Markup

from app.services.shared.markdown import plain_text, render


def test_it_renders_ordinary_markdown():
    html = render("## 見出し\n\n**太字** と *斜体*\n\n- 一つ目\n- 二つ目")
    assert "<h2>見出し</h2>" in html  # the page title is the <h1>: the body's biggest heading is an <h2>
    assert "<strong>太字</strong>" in html and "<em>斜体</em>" in html
    assert "<li>一つ目</li>" in html
    assert isinstance(html, Markup)


def test_headings_keep_their_steps_below_the_page_title_and_skip_no_level():
    assert render("# 大見出し\n\n## 小見出し").count("<h2>") == 1 and "<h3>小見出し</h3>" in render("# 大見出し\n\n## 小見出し")
    assert "<h2>作業</h2>" in render("### 作業\n\n#### 持ち物") and "<h3>持ち物</h3>" in render("### 作業\n\n#### 持ち物")
    assert "<h6>六</h6>" in render("# 一\n\n###### 六")  # no h7


def test_a_script_tag_stays_visible_text():
    html = render("こんにちは<script>alert('x')</script>")
    assert "<script" not in html
    assert "&lt;script&gt;" in html


def test_an_iframe_stays_visible_text():
    html = render('<iframe src="https://evil.example/"></iframe>')
    assert "<iframe" not in html
    assert "&lt;iframe" in html


def test_raw_html_with_event_handlers_is_not_rendered():
    html = render('<img src="x" onerror="alert(1)">\n\n<div onclick="alert(1)">x</div>\n\n<a href="/x">raw</a>')
    assert "<img" not in html and "<div" not in html and "<a " not in html
    assert "&lt;img" in html and "&lt;div" in html  # shown as the text that was typed


@pytest.mark.parametrize("target", [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "java&#09;script:alert(1)", "&#106;avascript:alert(1)",
    "%6Aavascript:alert(1)", "<java script:alert(1)>", "vbscript:msgbox(1)", "file:///etc/passwd",
])
def test_a_javascript_link_is_not_a_link(target):
    html = render(f"[押してね]({target})")
    assert "<a" not in html
    assert 'href="javascript' not in html.lower()


def test_a_javascript_autolink_is_not_a_link():
    assert "<a" not in render("<javascript:alert(1)>")


@pytest.mark.parametrize("target", ["data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "DATA:text/html,x"])
def test_a_data_link_is_not_a_link(target):
    html = render(f"[開く]({target})")
    assert "<a" not in html


def test_allowed_links_get_rel_noopener_nofollow():
    html = render("[外](https://example.jp/a) [メール](mailto:info@example.jp) [内](/programs/3) [頁内](#top)")
    for href in ("https://example.jp/a", "mailto:info@example.jp", "/programs/3", "#top"):
        assert f'<a href="{href}" rel="noopener nofollow">' in html


def test_images_only_from_our_uploads():
    html = render("![a](/uploads/0123456789abcdef0123456789abcdef.jpg) ![b](https://example.jp/b.png) "
                  "![c](http://example.jp/c.png) ![d](data:image/png;base64,AAAA) ![e](/static/../x.png)")
    assert '<img src="/uploads/0123456789abcdef0123456789abcdef.jpg" alt="a">' in html
    assert "https://example.jp/b.png" not in html
    assert "http://example.jp" not in html
    assert "data:image" not in html.replace("![d](data:image", "")
    assert 'src="/static' not in html


def test_only_a_small_set_of_tags_survives():
    html = render("| a | b |\n|---|---|\n| 1 | 2 |\n\n~~古い~~\n\n```\ncode <b>\n```")
    assert "<table>" in html and "<td>1</td>" in html
    assert "<s>古い</s>" in html or "<del>古い</del>" in html
    assert "<pre><code>code &lt;b&gt;" in html


def test_empty_text_renders_nothing():
    assert render("") == ""


def test_plain_text_strips_markup_and_shortens():
    assert plain_text("## 題\n\n**太字** & <b>") == "題 太字 & <b>"
    assert plain_text("あ" * 300, limit=10) == "あ" * 9 + "…"
