"""First-load bytes: what a browser with an empty cache downloads to show `/` and a member's `/card`.

The app is served the production way on a fresh SQLite database with the demo data. Each page is fetched
as a browser does (Accept-Encoding: gzip, br), then every stylesheet, script, image, icon and manifest
it links to, once each. Bytes on the wire are counted as received: the response headers and the body as
sent (compressed where the server compressed it). A second visit's bytes are printed too: what the
browser fetches again when the cache headers say it must ask (no `immutable` or `max-age`).

    .venv/bin/python bench/first_load.py [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._load import (  # noqa: E402
    ROOT,
    RequestSpec,
    ServerProcess,
    app_environment,
    fetch_once,
    free_port,
    log,
    log_in_demo_member,
    prepare_database,
    report_and_status,
    run_in_temp_dir,
    uvicorn_command,
)

TARGET_BYTES = 40 * 1024
ACCEPT_ENCODING = ("Accept-Encoding", "gzip, br")


class Links(HTMLParser):
    """The sub-resources a browser fetches to show the page (same-site URLs; data: URIs cost nothing more)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        url = None
        if tag == "link" and found.get("rel") in ("stylesheet", "icon", "manifest"):
            url = found.get("href")
        elif tag in ("script", "img"):
            url = found.get("src")
        if url and url.startswith("/") and url not in self.urls:
            self.urls.append(url)


@dataclass
class Fetched:
    url: str
    status: int
    header_bytes: int
    body_bytes: int
    encoding: str
    cache_control: str

    @property
    def wire(self) -> int:
        return self.header_bytes + self.body_bytes

    @property
    def asked_again(self) -> bool:
        """A browser's second visit fetches (or revalidates) whatever it may not keep without asking."""
        return "immutable" not in self.cache_control and "max-age=" not in self.cache_control


def fetch(port: int, url: str, cookie: str | None) -> tuple[Fetched, bytes]:
    headers = [("Accept", "text/html,*/*"), ("Accept-Language", "ja"), ACCEPT_ENCODING]
    if cookie:
        headers.append(("Cookie", cookie))
    status, response_headers, body = fetch_once(port, RequestSpec(path=url, headers=tuple(headers)))
    lookup = dict(response_headers)
    head = len(f"HTTP/1.1 {status} OK\r\n") + sum(len(n) + len(v) + 4 for n, v in response_headers) + 2
    return Fetched(url, status, head, len(body), lookup.get("content-encoding", ""), lookup.get("cache-control", "")), body


def first_load(port: int, path: str, cookie: str | None) -> list[Fetched]:
    page, body = fetch(port, path, cookie)
    if page.status != 200:
        raise RuntimeError(f"{path} answered {page.status}")
    if page.encoding == "gzip":
        import gzip

        body = gzip.decompress(body)
    parser = Links()
    parser.feed(body.decode("utf-8"))
    return [page] + [fetch(port, url, cookie)[0] for url in parser.urls]


def bench(work_dir: Path) -> dict:
    env = app_environment(work_dir)
    log(f"preparing a fresh database under {work_dir} (migrations + demo data)")
    prepare_database(env)
    _account, token = asyncio.run(log_in_demo_member(env["DATABASE_URL"], "bench/first_load.py"))
    port = free_port()
    report = {}
    with ServerProcess("app", uvicorn_command("app.asgi:app", port), env, port, work_dir, ready_path="/healthz"):
        for path, cookie in (("/", None), ("/card", f"tsunagu_auth={token}")):
            fetched = first_load(port, path, cookie)
            report[path] = {
                "first_load_bytes": sum(f.wire for f in fetched),
                "second_visit_bytes": sum(f.wire for f in fetched if f.asked_again),
                "files": [f.__dict__ | {"wire": f.wire} for f in fetched],
            }
    return report


def print_table(report: dict) -> None:
    for path, figures in report.items():
        print(f"\n{path}: first load {figures['first_load_bytes'] / 1024:.1f} KB on the wire "
              f"(target ≤ {TARGET_BYTES // 1024} KB), second visit {figures['second_visit_bytes'] / 1024:.1f} KB")
        print(f"  {'url':58} {'status':>6} {'headers':>8} {'body':>8} {'encoding':>8}  cache-control")
        for f in figures["files"]:
            print(f"  {f['url'][:58]:58} {f['status']:>6} {f['header_bytes']:>8} {f['body_bytes']:>8} "
                  f"{f['encoding'] or '-':>8}  {f['cache_control'] or '-'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    report = run_in_temp_dir(bench, "interrupted; server stopped")
    return report_and_status(report, args.json, print_table,
                             lambda figures: any(f["first_load_bytes"] > TARGET_BYTES for f in figures.values()))


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
