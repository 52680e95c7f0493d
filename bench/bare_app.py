"""The baseline for bench/pages.py: a bare Litestar app with one Jinja2 template route.

The template is static HTML (Japanese and ASCII text, like the real home page) padded to
BENCH_BARE_BYTES bytes of UTF-8 (default 7000), so the two pages cost the same on the wire and the
difference measured is what Tsunagu adds: middleware, sessions, CSRF, database, its templates.

Served like the app: `uvicorn bench.bare_app:app --host 127.0.0.1 --port P --workers 1 ...` from the
repository root.
"""

from __future__ import annotations

import os

from jinja2 import DictLoader, Environment, select_autoescape
from litestar import Litestar, MediaType, get
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

HEAD = """<!doctype html>
<html lang="ja">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>とまこまい つながる</title>
  <link rel="stylesheet" href="/static/css/app.css">
</head>
<body>
  <header class="topbar"><a class="brand" href="/"><span class="brand-name">とまこまい つながる</span></a></header>
  <main id="main" class="main">
    <section class="hero">
      <h1>海と森と港のまちで、もうひとつの暮らしを。</h1>
      <p class="hero-body">苫小牧は新千歳空港から車で約20分。夏は涼しく、冬は雪が少ないまちです。</p>
    </section>
"""
CARD = """    <article class="card">
      <h2 class="card-title">プログラム {n}: 港の朝市と工場夜景めぐり</h2>
      <p class="card-body">地域の人と一緒に、まちの魅力を体験するプログラムです。Program {n}.</p>
      <a class="card-link" href="/programs/{n}">くわしく見る</a>
    </article>
"""
TAIL = """  </main>
  <nav class="bottom-nav"><a href="/">ホーム</a><a href="/programs">プログラム</a><a href="/wallet">ウォレット</a></nav>
</body>
</html>
"""


def static_page(target_bytes: int) -> str:
    """Static HTML of exactly target_bytes UTF-8 bytes (or the bare skeleton, if larger)."""
    size = lambda text: len(text.encode("utf-8"))  # noqa: E731
    body, n = "", 1
    while size(HEAD + body + CARD.format(n=n) + TAIL) <= target_bytes and n < 10_000:
        body += CARD.format(n=n)
        n += 1
    filler = max(0, target_bytes - size(HEAD + body + TAIL) - len("    <p></p>\n"))
    if filler:
        body += "    <p>" + "x" * filler + "</p>\n"
    return HEAD + body + TAIL


TARGET_BYTES = int(os.environ.get("BENCH_BARE_BYTES", "7000"))
environment = Environment(
    loader=DictLoader({"home.html": static_page(TARGET_BYTES)}),
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
)


@get("/", media_type=MediaType.HTML)
async def home() -> Template:
    return Template(template_name="home.html", media_type=MediaType.HTML)


app = Litestar(
    route_handlers=[home],
    template_config=TemplateConfig(engine=JinjaTemplateEngine.from_environment(environment)),
)
