"""Settings: the only module that reads the environment.

`Settings.from_env()` is called by the entry points; tests build `Settings(...)` directly.
Secrets that are not given are generated on first run and kept under `var/` (see keyfile.py),
so no installation ever runs on a key that ships with the code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from app.keyfile import load_or_create_secrets

ROOT = Path(__file__).resolve().parent.parent
# Closed inquiries and sent mail are kept three years by default (README, Configuration); never under a month.
RETENTION_DAYS_DEFAULT, RETENTION_DAYS_MIN = 3 * 365, 30


def retention_days_from(text: str) -> int:
    """RETENTION_DAYS as set in the environment: whole days, at least a month, or the reason it is refused."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or int(text) < RETENTION_DAYS_MIN:
        raise ValueError(f"RETENTION_DAYS must be a whole number of days, at least {RETENTION_DAYS_MIN} (got {text!r})")
    return int(text)


@dataclass(frozen=True)
class Branding:
    region_name: str = "苫小牧市"
    site_name: str = "とまこまい つながる"
    short_name: str = "つながる"
    tagline: str = "都市と苫小牧を、行き来する暮らしへ。"
    member_no_prefix: str = "TMK"
    theme_color: str = "#0b6e69"
    accent_color: str = "#f2a33a"
    logo_url: str = ""


@dataclass(frozen=True)
class Publisher:
    """Who publishes the service and answers for its personal data: named in the privacy policy, the terms,
    the accessibility policy and every page's footer, so each installation publishes its own. The defaults are
    the demo's (a made-up department of 苫小牧市); a real installation sets every one."""

    municipality: str = "苫小牧市"
    department: str = "総合政策部 政策推進課"
    # The municipality's ordinance under the APPI (since 2023 each local government has one); empty: none cited.
    ordinance: str = "苫小牧市個人情報の保護に関する法律施行条例"
    # The company the operation is entrusted to (委託先); empty when the municipality runs it itself.
    operator: str = "株式会社とまこまい地域デザイン"
    phone: str = "0144-32-6480"
    email: str = "tsunagu@city.tomakomai.example.jp"
    hours: str = "平日 8:45〜17:15（土日・祝日・年末年始を除く）"


def mail_signature(branding: Branding, publisher: Publisher) -> str:
    """The block under every mail, as a municipality signs its mail: the service, the department that answers
    for it, and how to reach it (phone with its hours, mail)."""
    lines = [branding.site_name, " ".join(filter(None, (publisher.municipality, publisher.department)))]
    if publisher.phone:
        lines.append(f"TEL {publisher.phone}" + (f"（{publisher.hours}）" if publisher.hours else ""))
    if publisher.email:
        lines.append(publisher.email)
    return "\n".join(["――――――――――――――――", *filter(None, lines)])


@dataclass(frozen=True)
class Smtp:
    host: str = ""
    port: int = 587
    username: str = ""
    password: str = ""
    starttls: bool = True
    mail_from: str = "no-reply@localhost"
    # Under every mail sent: who sends it and how to reach them (made from the publisher; see Settings).
    signature: str = ""

    @property
    def enabled(self) -> bool:
        # Without a host, mail is written under var/mail so a fresh machine needs no mail server.
        return bool(self.host)


IMAP_TLS_MODES = ("implicit", "starttls", "none")


@dataclass(frozen=True)
class Imap:
    """The desk's mailbox, read by the background round for the askers' replies."""

    host: str = ""
    port: int = 993
    tls: str = "implicit"  # implicit | starttls | none (none only to a loopback address: the password is sent)
    user: str = ""
    password: str = ""
    folder: str = "INBOX"

    @property
    def enabled(self) -> bool:
        return bool(self.host)


def imap_from(env) -> Imap:
    tls = env.get("IMAP_TLS", "implicit").strip().lower()
    if tls not in IMAP_TLS_MODES:
        raise ValueError(f"IMAP_TLS must be one of {', '.join(IMAP_TLS_MODES)}, not {tls!r}")
    default_port = {"implicit": "993"}.get(tls, "143")
    return Imap(host=env.get("IMAP_HOST", "").strip(), port=int(env.get("IMAP_PORT", default_port)), tls=tls,
                user=env.get("IMAP_USER", ""), password=env.get("IMAP_PASSWORD", ""),
                folder=env.get("IMAP_FOLDER", "").strip() or "INBOX")


@dataclass(frozen=True)
class RestoreLimits:
    """How far a handover archive may unpack: one entry, and all of them together. A restore refuses a
    larger archive before it writes anything (a small ZIP can unpack to a full disk)."""

    max_entry_mb: int = 256
    max_total_mb: int = 4096


def publisher_from(env, region_name: str) -> Publisher:
    """The publisher as set; the municipality falls back to REGION_NAME, so an installation that named its
    region never publishes the demo's municipality as the one responsible."""
    defaults = Publisher()
    return Publisher(
        municipality=env.get("MUNICIPALITY_NAME", region_name),
        department=env.get("MUNICIPALITY_DEPARTMENT", defaults.department),
        ordinance=env.get("PRIVACY_ORDINANCE", defaults.ordinance),
        operator=env.get("OPERATOR_NAME", defaults.operator),
        phone=env.get("CONTACT_PHONE", defaults.phone),
        email=env.get("CONTACT_EMAIL", defaults.email),
        hours=env.get("CONTACT_HOURS", defaults.hours),
    )


@dataclass(frozen=True)
class Line:
    """The municipality's LINE official account as a channel beside Web Push (app/services/notify/line_*.py).
    Without the channel secret and the access token nothing about LINE shows and its webhook is a 404."""

    channel_id: str = ""
    channel_secret: str = field(default="", repr=False)
    access_token: str = field(default="", repr=False)
    # The Messaging API's host: tests and a staging setup point it at a stand-in.
    api_base: str = "https://api.line.me"
    # Where the member's browser confirms the link in LINE (the Messaging API's account-link endpoint).
    account_link_url: str = "https://access.line.me/dialog/bot/accountLink"
    # The official account's "add friend" link, shown with its QR code on the account page.
    add_friend_url: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.channel_secret and self.access_token)


def http_url_from(name: str, text: str) -> str:
    """A LINE_* address as set in the environment: http(s) with a host, or the reason it is refused."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} must be an http or https address (got {text!r})")
    return text.rstrip("/")


@dataclass(frozen=True)
class Settings:
    secret_key: str
    vapid_private_key: str
    vapid_public_key: str
    signing_key: str
    var_dir: Path = ROOT / "var"
    database_url: str = ""
    redis_url: str = ""
    base_url: str = "http://localhost:8000"
    webauthn_rp_id: str = ""
    webauthn_origins: tuple[str, ...] = ()
    vapid_subject: str = ""
    default_locale: str = "ja"
    smtp: Smtp = field(default_factory=Smtp)
    imap: Imap = field(default_factory=Imap)
    branding: Branding = field(default_factory=Branding)
    publisher: Publisher = field(default_factory=Publisher)
    restore_limits: RestoreLimits = field(default_factory=RestoreLimits)
    line: Line = field(default_factory=Line)
    furusato_tax_url: str = "https://www.furusato-tax.jp/"
    migration_url: str = "https://www.iju-join.jp/"
    workation_url: str = "https://www.workation.env.go.jp/"
    max_body_bytes: int = 10 * 1024 * 1024
    auth_rate_limit_per_minute: int = 20
    scan_rate_limit_per_minute: int = 60
    # Reverse proxies (addresses or networks) whose X-Forwarded-For is believed (app/rate_limit.py);
    # none by default: the peer of the connection is the client.
    trusted_proxies: tuple[str, ...] = ()
    # The embedded push sender runs inside the app process; off when REDIS_URL workers do the sending
    # (it is then only a queue client) or in tests that drive rounds themselves.
    push_sender: bool = True
    # Origins the sender may call besides the real push services (FCM, Mozilla, Apple, Windows), matched
    # exactly and trusted as they are: "https://push.example.org", "http://127.0.0.1:8123"; "host[:port]"
    # means https. See app/services/notify/push_endpoints.py.
    push_extra_hosts: tuple[str, ...] = ()
    # Where "home" is for the entry pass rule "visitors from outside only". An empty municipality
    # means the whole prefecture is the region (a prefecture-run programme).
    region_prefecture_code: str = "01"
    region_municipality: str = "苫小牧市"
    # How long closed inquiries and sent mail keep their personal data before staff purge them (APPI).
    retention_days: int = RETENTION_DAYS_DEFAULT
    # How long a public page answered to visitors without a login is served again as it is (app/page_cache.py);
    # 0 turns the copies off.
    page_cache_seconds: float = 5.0
    # How long a member's own page (card, wallet, account, applications, inbox, surveys, premium) may be served
    # again as it was rendered, while nothing it shows has changed (db/page_versions.py); it bounds only what time
    # alone changes (a relative date, the card's day). 0 turns the copies off.
    member_page_cache_seconds: float = 60.0
    log_level: str = "INFO"
    debug: bool = False

    def __post_init__(self) -> None:
        # Derived values are filled here so tests that set only base_url get consistent ones.
        if not self.smtp.signature:
            object.__setattr__(self, "smtp", replace(self.smtp, signature=mail_signature(self.branding, self.publisher)))
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.var_dir / 'tsunagu.sqlite3'}")
        if not self.vapid_subject:
            # Push services want a contact: the site itself (RFC 8292 allows an https: URL or mailto:).
            host = urlsplit(self.base_url).hostname or "localhost"
            object.__setattr__(self, "vapid_subject", f"https://{host}" if host != "localhost" else "mailto:admin@localhost")
        if not self.webauthn_rp_id:
            object.__setattr__(self, "webauthn_rp_id", urlsplit(self.base_url).hostname or "localhost")
        if not self.webauthn_origins:
            parts = urlsplit(self.base_url)
            object.__setattr__(self, "webauthn_origins", (f"{parts.scheme}://{parts.netloc}",))

    @property
    def secure_cookies(self) -> bool:
        return urlsplit(self.base_url).scheme == "https"

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        var_dir = Path(env.get("TSUNAGU_VAR_DIR", str(ROOT / "var")))
        secrets = load_or_create_secrets(
            var_dir,
            given={
                "secret_key": env.get("SECRET_KEY", ""),
                "vapid_private_key": env.get("VAPID_PRIVATE_KEY", ""),
                "vapid_public_key": env.get("VAPID_PUBLIC_KEY", ""),
                "signing_key": env.get("SIGNING_KEY", ""),
            },
        )
        defaults = Branding()
        origins = tuple(o.strip() for o in env.get("WEBAUTHN_ORIGINS", "").split(",") if o.strip())
        push_hosts = tuple(h.strip() for h in env.get("PUSH_EXTRA_HOSTS", "").split(",") if h.strip())
        proxies = tuple(p.strip() for p in env.get("TRUSTED_PROXIES", "").split(",") if p.strip())
        return cls(
            **secrets,
            var_dir=var_dir,
            database_url=env.get("DATABASE_URL", ""),
            redis_url=env.get("REDIS_URL", ""),
            base_url=env.get("BASE_URL", "http://localhost:8000").rstrip("/"),
            webauthn_rp_id=env.get("WEBAUTHN_RP_ID", ""),
            webauthn_origins=origins,
            vapid_subject=env.get("VAPID_SUBJECT", ""),
            default_locale=env.get("DEFAULT_LOCALE", "ja"),
            smtp=Smtp(
                host=env.get("SMTP_HOST", ""),
                port=int(env.get("SMTP_PORT", "587")),
                username=env.get("SMTP_USERNAME", ""),
                password=env.get("SMTP_PASSWORD", ""),
                starttls=env.get("SMTP_STARTTLS", "true").lower() in ("1", "true", "yes"),
                mail_from=env.get("MAIL_FROM", "no-reply@localhost"),
            ),
            imap=imap_from(env),
            branding=Branding(
                region_name=env.get("REGION_NAME", defaults.region_name),
                site_name=env.get("SITE_NAME", defaults.site_name),
                short_name=env.get("SITE_SHORT_NAME", defaults.short_name),
                tagline=env.get("SITE_TAGLINE", defaults.tagline),
                member_no_prefix=env.get("MEMBER_NO_PREFIX", defaults.member_no_prefix),
                theme_color=env.get("THEME_COLOR", defaults.theme_color),
                accent_color=env.get("ACCENT_COLOR", defaults.accent_color),
                logo_url=env.get("LOGO_URL", defaults.logo_url),
            ),
            publisher=publisher_from(env, env.get("REGION_NAME", defaults.region_name)),
            restore_limits=RestoreLimits(
                max_entry_mb=int(env.get("RESTORE_MAX_ENTRY_MB", str(RestoreLimits.max_entry_mb))),
                max_total_mb=int(env.get("RESTORE_MAX_TOTAL_MB", str(RestoreLimits.max_total_mb))),
            ),
            line=Line(
                channel_id=env.get("LINE_CHANNEL_ID", ""),
                channel_secret=env.get("LINE_CHANNEL_SECRET", ""),
                access_token=env.get("LINE_CHANNEL_ACCESS_TOKEN", ""),
                api_base=http_url_from("LINE_API_BASE", env.get("LINE_API_BASE", Line.api_base)),
                account_link_url=http_url_from("LINE_ACCOUNT_LINK_URL", env.get("LINE_ACCOUNT_LINK_URL", Line.account_link_url)),
                add_friend_url=http_url_from("LINE_ADD_FRIEND_URL", env["LINE_ADD_FRIEND_URL"])
                if env.get("LINE_ADD_FRIEND_URL") else "",
            ),
            furusato_tax_url=env.get("FURUSATO_TAX_URL", cls.furusato_tax_url),
            migration_url=env.get("MIGRATION_URL", cls.migration_url),
            workation_url=env.get("WORKATION_URL", cls.workation_url),
            max_body_bytes=int(env.get("MAX_BODY_BYTES", str(10 * 1024 * 1024))),
            auth_rate_limit_per_minute=int(env.get("AUTH_RATE_LIMIT_PER_MINUTE", "20")),
            scan_rate_limit_per_minute=int(env.get("SCAN_RATE_LIMIT_PER_MINUTE", "60")),
            trusted_proxies=proxies,
            push_sender=env.get("PUSH_SENDER", "on").lower() not in ("0", "off", "false", "no"),
            push_extra_hosts=push_hosts,
            region_prefecture_code=env.get("REGION_PREFECTURE_CODE", "01"),
            region_municipality=env.get("REGION_MUNICIPALITY", "苫小牧市"),
            retention_days=retention_days_from(env.get("RETENTION_DAYS", str(RETENTION_DAYS_DEFAULT))),
            page_cache_seconds=float(env.get("PAGE_CACHE_SECONDS", "5")),
            member_page_cache_seconds=float(env.get("MEMBER_PAGE_CACHE_SECONDS", "60")),
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
            debug=env.get("DEBUG", "").lower() in ("1", "true", "yes"),
        )
