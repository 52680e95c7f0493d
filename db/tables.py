"""Tables. Singular PascalCase names, snake_case columns; what must never happen twice is a constraint."""

from piccolo.columns import (
    JSON,
    BigInt,
    Boolean,
    Bytea,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Area(Table):
    """A town or district inside the region that hosts programs (地域・市町)."""

    slug = Varchar(length=64, unique=True, required=True)
    name = Varchar(length=100, required=True)
    description = Text(default="")
    image_url = Varchar(length=500, default="")
    position = Integer(default=0)
    created_at = Timestamptz(default=TimestamptzNow())


class PortalBlock(Table):
    """An editable block of the public portal: the hero message or a link card."""

    kind = Varchar(length=16, required=True)  # "hero" | "link" | "desk"
    key = Varchar(length=64, unique=True, required=True)
    title = Varchar(length=200, required=True)
    body = Text(default="")
    url = Varchar(length=500, default="")
    icon = Varchar(length=32, default="")
    fields = JSON(default="{}")  # what a kind needs beyond these: the desk's phone, e-mail and hours
    position = Integer(default=0)
    active = Boolean(default=True)
    updated_at = Timestamptz(default=TimestamptzNow())


class Shop(Table):
    """A partner business (協力店舗) whose staff scan wallet QR codes."""

    name = Varchar(length=100, required=True)
    category = Varchar(length=32, default="")  # coworking | rental_car | rental_bicycle | tourism | restaurant | other
    description = Text(default="")
    photo_url = Varchar(length=500, default="")
    address = Varchar(length=200, default="")
    map_url = Varchar(length=500, default="")
    opening_hours = Varchar(length=200, default="")
    # A notice for a while: days it is closed (年末年始), a change of hours; shown above the shop's details.
    notice = Varchar(length=200, default="")
    phone = Varchar(length=32, default="")
    # Where the shop is: a member's first use there suggests that area's programs (journeys/first_use_programs).
    area = ForeignKey(references=Area, null=True, on_delete=OnDelete.set_null)
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())


class Account(Table):
    """Anyone who logs in: a member, shop staff, an editor or the secretariat. Passkeys only, no password.

    A deleted account stays as an anonymised tombstone so that records others depend on still point somewhere.
    """

    role = Varchar(length=16, required=True, index=True)  # member | shop | editor | staff
    status = Varchar(length=16, default="active")  # active | deleted
    display_name = Varchar(length=50, required=True)
    email = Varchar(length=254, null=True, default=None, index=True)
    email_verified_at = Timestamptz(null=True, default=None)
    webauthn_user_id = Varchar(length=64, unique=True, required=True)
    area = ForeignKey(references=Area, null=True, on_delete=OnDelete.set_null)
    shop = ForeignKey(references=Shop, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    last_login_at = Timestamptz(null=True, default=None)
    # The language the person last chose on screen ("" until they do): what the app writes to them when
    # someone else's action tells them something (a decision, a survey, a reply) is in it.
    locale = Varchar(length=8, default="")


class Campaign(Table):
    """A link that brings people in (キャンペーン): a news release, an influencer's article, a station poster, an SNS
    post. Its short address /c/<slug> leads to `target` (a page of this site) and notes the campaign as the visitor's
    first source (流入元) in their session; a printable poster carries its QR code. Visitors referred by a matching
    site (kind "matching_site", e.g. SMOUT) are given its campaign without a link. Kept, never deleted: the rows
    attributed to it keep their figures."""

    slug = Varchar(length=32, unique=True, required=True)
    name = Varchar(length=100, required=True)
    source = Varchar(length=100, required=True)  # where people see it: "JR苫小牧駅", "移住フェア東京", "X（旧Twitter）"
    kind = Varchar(length=16, required=True)  # news_release | influencer | poster | flyer | sns | matching_site | other
    target = Varchar(length=500, default="/")  # a path on this site
    poster_text = Text(default="")
    active = Boolean(default=True)
    created_by = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Member(Table):
    """A furusato resident (ふるさと住民): the membership profile of an Account with role "member"."""

    account = ForeignKey(references=Account, unique=True, on_delete=OnDelete.cascade)
    member_no = Varchar(length=32, unique=True, required=True)
    family_name = Varchar(length=50, default="")
    given_name = Varchar(length=50, default="")
    family_name_kana = Varchar(length=50, default="")
    given_name_kana = Varchar(length=50, default="")
    home_prefecture = Varchar(length=2, default="", index=True)  # JIS X 0401 code, "13" = Tokyo
    home_municipality = Varchar(length=50, default="")
    ties = JSON(default="[]")
    ties_other = Varchar(length=100, default="")
    interests = JSON(default="[]")
    tier = Varchar(length=16, default="basic")  # basic | premium
    premium_until = Date(null=True, default=None)
    consent_version = Varchar(length=32, required=True)  # the privacy policy's version agreed to
    # The terms of use's version agreed to at the same moment; empty for members who registered before the terms.
    terms_version = Varchar(length=32, default="")
    consent_at = Timestamptz(default=TimestamptzNow())
    created_at = Timestamptz(default=TimestamptzNow())
    # The person's id in the system a registrant import came from (the national system, a CRM): a re-run of the
    # same file finds them by it. Unique (one id never names two members) by a raw migration's index: SQLite
    # cannot add a UNIQUE column to a table that exists.
    external_id = Varchar(length=64, null=True, default=None)
    # The first campaign (キャンペーン) the person came from before registering; None when they came by themselves.
    campaign = ForeignKey(references=Campaign, null=True, default=None, on_delete=OnDelete.set_null)
    # Since when the member wants the weekly digest by mail (notify/digest.py); None: they do not.
    digest_since = Timestamptz(null=True, default=None)


class AreaFollow(Table):
    """A member follows an area: programs there reach them first."""

    member = ForeignKey(references=Member, on_delete=OnDelete.cascade)
    area = ForeignKey(references=Area, on_delete=OnDelete.cascade)
    # Unique (member, area) is a unique index made by a raw migration: SQLite cannot ALTER in a constraint.


class Passkey(Table):
    """A WebAuthn credential. The credential id is unique across the installation."""

    account = ForeignKey(references=Account, on_delete=OnDelete.cascade, index=True)
    credential_id = Varchar(length=1400, unique=True, required=True)  # base64url
    public_key = Bytea(required=True)
    sign_count = BigInt(default=0)
    transports = JSON(default="[]")
    aaguid = Varchar(length=36, default="")
    device_type = Varchar(length=16, default="single_device")  # single_device | multi_device (synced)
    backed_up = Boolean(default=False)
    name = Varchar(length=60, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    last_used_at = Timestamptz(null=True, default=None)


class AuthChallenge(Table):
    """A WebAuthn challenge: random, single-use (consumed by a conditional delete), short-lived."""

    challenge = Varchar(length=128, unique=True, required=True)
    purpose = Varchar(length=16, required=True)  # register | login | add
    expires_at = Timestamptz(required=True)


class RateCount(Table):
    """Requests counted against a rate limit in one fixed window (app/services/shared/rate_counts.py).
    Unique (key, window_ends) by a raw migration, so a hit is one INSERT … ON CONFLICT DO UPDATE. UNLOGGED on
    PostgreSQL (another raw migration): counts are not worth a disk flush each."""

    key = Varchar(length=200, required=True)  # the limit and the client: "auth:203.0.113.7", "scan:account:12"
    window_ends = BigInt(required=True, index=True)  # Unix seconds; rows of ended windows are deleted
    hits = Integer(default=0)


class LoginSession(Table):
    """A logged-in device. The cookie holds a random token; only its hash is stored."""

    token_hash = Varchar(length=64, unique=True, required=True)
    account = ForeignKey(references=Account, on_delete=OnDelete.cascade, index=True)
    user_agent = Varchar(length=300, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    last_seen_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz(required=True)


class OneTimeToken(Table):
    """A single-use link: e-mail confirmation or passkey recovery (by mail or at the desk)."""

    token_hash = Varchar(length=64, unique=True, required=True)
    purpose = Varchar(length=16, required=True)  # confirm_email | recovery
    account = ForeignKey(references=Account, on_delete=OnDelete.cascade)
    email = Varchar(length=254, default="")
    created_by = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz(required=True)
    used_at = Timestamptz(null=True, default=None)


class Invitation(Table):
    """A single-use, expiring enrollment link for a role, made by staff; the invitee registers a passkey."""

    token_hash = Varchar(length=64, unique=True, required=True)
    role = Varchar(length=16, required=True)  # staff | editor | shop
    area = ForeignKey(references=Area, null=True, on_delete=OnDelete.cascade)
    shop = ForeignKey(references=Shop, null=True, on_delete=OnDelete.cascade)
    note = Varchar(length=100, default="")
    created_by = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz(required=True)
    used_at = Timestamptz(null=True, default=None)
    used_by = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)


class AuditLog(Table):
    """Who did what to what, and when: staff decisions, exports, role changes."""

    actor = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    action = Varchar(length=64, required=True, index=True)
    target_type = Varchar(length=32, default="")
    target_id = Varchar(length=64, default="")
    detail = JSON(default="{}")
    created_at = Timestamptz(default=TimestamptzNow(), index=True)


class Offer(Table):
    """One discount or perk (特典) at one shop."""

    shop = ForeignKey(references=Shop, on_delete=OnDelete.cascade, index=True)
    title = Varchar(length=100, required=True)
    description = Text(default="")
    terms = Text(default="")
    limit_kind = Varchar(length=16, default="once")  # once | per_day | unlimited
    limit_count = Integer(default=1)  # uses per day for per_day
    valid_from = Date(null=True, default=None)
    valid_to = Date(null=True, default=None)
    image_url = Varchar(length=500, default="")
    active = Boolean(default=True)
    # Only a member whose premium tier holds on the day of the scan may use it.
    premium_only = Boolean(default=False)
    position = Integer(default=0)
    created_at = Timestamptz(default=TimestamptzNow())


class Pass(Table):
    """An entry pass (エントリーパス): a bundle of offers for visitors from outside the region."""

    name = Varchar(length=100, required=True)
    description = Text(default="")
    validity_days = Integer(default=30)
    # Only people whose home is outside the region may activate it (checked against the profile).
    outside_residents_only = Boolean(default=True)
    # The member declares the dates of their stay; the pass works only within them.
    requires_stay = Boolean(default=False)
    # Only a member whose premium tier holds on the day of activation may activate it.
    premium_only = Boolean(default=False)
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())


class PassOffer(Table):
    """Which offers a pass includes. Unique (pass, offer) by a raw migration."""

    entry_pass = ForeignKey(references=Pass, on_delete=OnDelete.cascade)
    offer = ForeignKey(references=Offer, on_delete=OnDelete.cascade)


class WalletPass(Table):
    """One member's activated copy of a pass. Unique (member, pass) by a raw migration."""

    member = ForeignKey(references=Member, on_delete=OnDelete.cascade, index=True)
    entry_pass = ForeignKey(references=Pass, on_delete=OnDelete.cascade)
    short_code = Varchar(length=12, unique=True, required=True)  # typed at the counter when the camera fails
    status = Varchar(length=16, default="active")  # active | suspended | revoked
    status_reason = Varchar(length=200, default="")
    activated_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz(required=True)
    stay_from = Date(null=True, default=None)
    stay_to = Date(null=True, default=None)
    campaign = ForeignKey(references=Campaign, null=True, default=None, on_delete=OnDelete.set_null)  # the first one


class Redemption(Table):
    """One use of an offer, recorded when a shop scans a wallet.

    "Never beyond the limit" is a unique index on (wallet pass, offer, limit key, slot): the limit key is
    "once", the Tokyo date for per-day offers, or the row's own nonce for unlimited ones; slots run 1..N.
    A scanner's retry sends the same nonce, unique per scanning account, and gets the first answer back.
    """

    wallet_pass = ForeignKey(references=WalletPass, on_delete=OnDelete.cascade, index=True)
    offer = ForeignKey(references=Offer, on_delete=OnDelete.cascade)
    shop = ForeignKey(references=Shop, on_delete=OnDelete.cascade, index=True)
    limit_key = Varchar(length=64, required=True)
    slot = Integer(default=1)
    scanned_by = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    client_nonce = Varchar(length=64, required=True)
    home_prefecture = Varchar(length=2, default="")  # snapshot, for analysis without personal data
    redeemed_at = Timestamptz(default=TimestamptzNow(), index=True)
    undone_at = Timestamptz(null=True, default=None)
    # Decided by the counter with no network and sent later: redeemed_at is then the time of the scan.
    offline = Boolean(default=False)


class Conflict(Table):
    """A use a counter allowed while offline that the server could not count when it arrived: the offer's
    limit was taken meanwhile (by another counter, or online), or a rule the device could not know refused it.

    The offer was given at the counter all the same, so nothing is dropped: staff see each one and mark it
    reviewed. Unique per (scanning account, nonce), like a redemption, so a resent use is one conflict.
    """

    wallet_pass = ForeignKey(references=WalletPass, null=True, on_delete=OnDelete.cascade, index=True)
    offer = ForeignKey(references=Offer, null=True, on_delete=OnDelete.cascade)
    shop = ForeignKey(references=Shop, on_delete=OnDelete.cascade, index=True)
    scanned_by = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    client_nonce = Varchar(length=64, required=True)
    reason = Varchar(length=32, required=True)
    # The use that holds the offer's limit, when that is why (the one the server kept).
    kept_redemption = ForeignKey(references=Redemption, null=True, on_delete=OnDelete.set_null)
    home_prefecture = Varchar(length=2, default="")
    scanned_at = Timestamptz(index=True)
    received_at = Timestamptz()
    reviewed_at = Timestamptz(null=True, default=None)
    reviewed_by = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)


class Program(Table):
    """A regional program (地域プログラム) or an online exchange meeting (交流会, kind "event").

    `seats_taken` is moved only by conditional UPDATEs (never above `capacity`), so concurrent
    applications for the last seat cannot over-fill it; it always equals the accepted and attended count.
    """

    area = ForeignKey(references=Area, on_delete=OnDelete.restrict, index=True)
    kind = Varchar(length=16, default="program")  # program | event
    title = Varchar(length=120, required=True)
    summary = Varchar(length=300, default="")
    body = Text(default="")  # Markdown, rendered safely
    themes = JSON(default="[]")
    place = Varchar(length=200, default="")
    meeting_url = Varchar(length=500, default="")  # online events: shown to accepted registrants only
    matching_url = Varchar(length=500, default="")  # its page on a matching site the region uses (SMOUT), linked from ours
    starts_at = Timestamptz(required=True)
    ends_at = Timestamptz(required=True)
    apply_from = Timestamptz(required=True)
    apply_until = Timestamptz(required=True)
    premium_apply_from = Timestamptz(null=True, default=None)  # premium members may apply from here (earlier)
    capacity = Integer(default=10)
    seats_taken = Integer(default=0)
    support = Text(default="")  # what the support covers, e.g. travel cost help
    questions = JSON(default="[]")  # questions for applicants
    image_url = Varchar(length=500, default="")
    status = Varchar(length=16, default="draft", index=True)  # draft | submitted | published | closed | completed | rejected
    status_reason = Varchar(length=500, default="")
    author = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    published_at = Timestamptz(null=True, default=None)


class Application(Table):
    """A member's application to a program. Unique (program, member) by a raw migration."""

    program = ForeignKey(references=Program, on_delete=OnDelete.cascade, index=True)
    member = ForeignKey(references=Member, on_delete=OnDelete.cascade, index=True)
    status = Varchar(length=16, required=True)  # accepted | waitlisted | rejected | cancelled | attended
    motivation = Text(default="")
    answers = JSON(default="[]")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    attended_at = Timestamptz(null=True, default=None)
    campaign = ForeignKey(references=Campaign, null=True, default=None, on_delete=OnDelete.set_null)  # the first one


class Activity(Table):
    """A designated local activity (担い手活動) that is not a program: a volunteer day, help at a local event,
    work with a local business or group, an online contribution. Attending a program counts the same way
    (its attendance is the application's), so programs have no row here."""

    title = Varchar(length=120, required=True)
    kind = Varchar(length=16, required=True)  # volunteer | event | business | online
    description = Text(default="")
    area = ForeignKey(references=Area, on_delete=OnDelete.restrict, index=True)
    starts_on = Date(required=True)
    ends_on = Date(required=True)  # the same day for a one-day activity
    place = Varchar(length=200, default="")
    map_url = Varchar(length=500, default="")
    organiser = Varchar(length=120, default="")
    counts_for_premium = Boolean(default=True)
    capacity = Integer(null=True, default=None)
    status = Varchar(length=16, default="open", index=True)  # open | cancelled
    created_by = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class CheckIn(Table):
    """One member's recorded attendance at an activity. One per member, activity and day in Japan (a unique
    index by a raw migration); a phone's check-in carries its own nonce (unique), so a sync sent twice, or a
    scan and a card at the same door, records once."""

    activity = ForeignKey(references=Activity, on_delete=OnDelete.cascade, index=True)
    member = ForeignKey(references=Member, on_delete=OnDelete.cascade, index=True)
    day = Date(required=True)
    method = Varchar(length=16, required=True)  # code (the member scanned) | card | hand | import
    client_nonce = Varchar(length=64, null=True, default=None, unique=True)
    scanned_at = Timestamptz(required=True)  # the phone's time of the scan for a check-in synced later
    recorded_by = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    reason = Varchar(length=300, default="")  # why staff recorded it by hand
    created_at = Timestamptz(default=TimestamptzNow())


class PremiumApplication(Table):
    """A member's request for the premium tier (プレミアム申請) with its evidence, reviewed in the one queue. At
    most one waiting per member (a partial unique index by a raw migration); a decision is a conditional
    UPDATE on status "submitted", so two decisions at once give one."""

    member = ForeignKey(references=Member, on_delete=OnDelete.cascade, index=True)
    status = Varchar(length=16, default="submitted", index=True)  # submitted | approved | declined | withdrawn
    renewal = Boolean(default=False)
    home_municipality = Varchar(length=50, required=True)  # where the member lives, as they state it
    other_municipalities = JSON(default="[]")  # [{"name": "…", "state": "holding" | "applying"}]
    evidence = JSON(default="[]")  # the activities as they stood when applying (progress.evidence)
    reason = Varchar(length=500, default="")  # why staff declined
    decided_by = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    decided_at = Timestamptz(null=True, default=None)
    certificate_no = Varchar(length=32, null=True, default=None, unique=True)
    valid_from = Date(null=True, default=None)
    valid_until = Date(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class ErasedIdentity(Table):
    """A person who deleted their account, as a one-way hash of each address and source id they had: an import
    of the municipality's list must not make them a member again (APPI), and nothing readable is kept."""

    key_hash = Varchar(length=64, unique=True, required=True)  # SHA-256 of "email:<address>" or "id:<source id>"
    erased_at = Timestamptz(default=TimestamptzNow())


class JourneyRule(Table):
    """A standing journey rule as the secretariat set it for one fiscal year (unique (fiscal year, rule) by a
    raw migration). A year without a row runs the rule as journeys/rules.py says by default."""

    fiscal_year = Integer(required=True)
    rule = Varchar(length=48, required=True)  # follow_up_survey | warm_lead | premium_invitation | first_use_programs
    enabled = Boolean(default=True)
    assignee = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)  # warm_lead: who takes the lead
    updated_by = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    updated_at = Timestamptz(default=TimestamptzNow())


class JourneyEvent(Table):
    """A step of a member's journey that must happen once: a reminder sent, a rule fired. Unique (rule,
    member, cause) by a raw migration, so a round run twice, or by two workers at once, acts once."""

    rule = Varchar(length=48, required=True)
    member = ForeignKey(references=Member, on_delete=OnDelete.cascade, index=True)
    cause = Varchar(length=64, required=True)  # what made it fire: an expiry date, an attendance, an answer
    fired_at = Timestamptz(default=TimestamptzNow(), index=True)


class Notice(Table):
    """A message in a person's in-app inbox (お知らせ): decisions, promotions from the waitlist, news."""

    account = ForeignKey(references=Account, on_delete=OnDelete.cascade, index=True)
    title = Varchar(length=200, required=True)
    body = Text(default="")
    url = Varchar(length=500, default="")
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    read_at = Timestamptz(null=True, default=None)


class Article(Table):
    """Published content (記事): recruitment, activity report, interview or news; same review as programs."""

    kind = Varchar(length=16, default="news")  # recruitment | report | interview | news
    title = Varchar(length=120, required=True)
    lead = Varchar(length=300, default="")
    body = Text(default="")  # Markdown, rendered safely
    cover_image = Varchar(length=500, default="")  # /uploads/<name> from an upload
    program = ForeignKey(references=Program, null=True, on_delete=OnDelete.set_null)
    area = ForeignKey(references=Area, null=True, on_delete=OnDelete.set_null, index=True)
    status = Varchar(length=16, default="draft", index=True)  # draft | submitted | published | rejected
    status_reason = Varchar(length=500, default="")
    author = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    published_at = Timestamptz(null=True, default=None, index=True)


class Revision(Table):
    """An editor's change to a public program or article (審査待ちの変更), waiting for the secretariat while the
    public keeps seeing the published values. One per item (`program` or `article` is set, unique); editing
    again replaces `proposed` and raises `version`, so an approval of an older version is refused."""

    program = ForeignKey(references=Program, null=True, unique=True, on_delete=OnDelete.cascade)
    article = ForeignKey(references=Article, null=True, unique=True, on_delete=OnDelete.cascade)
    proposed = JSON(default="{}")  # column name -> proposed value (times as ISO 8601 text)
    version = Integer(default=1)
    author = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Upload(Table):
    """An uploaded image (or PDF), checked by content, stripped of EXIF, resized, stored under a generated name.
    A private one (a receipt, a mail's attachment) is served only to staff and to its uploader, and never cached."""

    name = Varchar(length=64, unique=True, required=True)
    content_type = Varchar(length=32, required=True)
    width = Integer(default=0)
    height = Integer(default=0)
    size = Integer(default=0)
    uploaded_by = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    private = Boolean(default=False)
    created_at = Timestamptz(default=TimestamptzNow())


class PushSubscription(Table):
    """One device's Web Push subscription. The endpoint is unique: re-subscribing updates it."""

    account = ForeignKey(references=Account, on_delete=OnDelete.cascade, index=True)
    endpoint = Varchar(length=1000, unique=True, required=True)
    p256dh = Varchar(length=200, required=True)
    auth = Varchar(length=100, required=True)
    device_label = Varchar(length=60, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    last_success_at = Timestamptz(null=True, default=None)


class PushPreference(Table):
    """Which topics an account wants by push. No row: the defaults (everything for followed areas)."""

    account = ForeignKey(references=Account, unique=True, on_delete=OnDelete.cascade)
    programs = Varchar(length=16, default="followed")  # followed | all | none
    events = Boolean(default=True)
    surveys = Boolean(default=True)
    news = Boolean(default=True)


class Notification(Table):
    """A message to many: staff broadcast or an automatic trigger. Delivered per device, listed per person."""

    topic = Varchar(length=16, required=True)  # programs | events | surveys | news | test
    title = Varchar(length=120, required=True)
    body = Varchar(length=500, default="")
    url = Varchar(length=500, default="")
    target = JSON(default="{}")  # how recipients were chosen, for the record
    created_by = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    send_at = Timestamptz(default=TimestamptzNow(), index=True)
    status = Varchar(length=16, default="scheduled", index=True)  # scheduled | fanned_out
    recipients = Integer(default=0)


class Delivery(Table):
    """One notification to one device: durable, claimed by one sender at a time, retried with backoff.

    Unique (notification, subscription) by a raw migration, so a fan-out run twice adds nothing.
    """

    notification = ForeignKey(references=Notification, on_delete=OnDelete.cascade, index=True)
    subscription = ForeignKey(references=PushSubscription, null=True, on_delete=OnDelete.set_null)
    status = Varchar(length=16, default="queued", index=True)  # queued | sending (claimed) | pushing (requested) | sent | failed | expired
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(default=TimestamptzNow(), index=True)
    claimed_until = Timestamptz(null=True, default=None)
    last_error = Varchar(length=200, default="")
    sent_at = Timestamptz(null=True, default=None)


class LineLink(Table):
    """A member's LINE account, bound by LINE's account-link event carrying a nonce this site gave that member
    (app/services/notify/line_links.py). One LINE account per member and one member per LINE account."""

    account = ForeignKey(references=Account, unique=True, on_delete=OnDelete.cascade)
    line_user_id = Varchar(length=64, unique=True, required=True)
    status = Varchar(length=16, default="linked")  # linked | blocked (the member unfollowed or blocked the account)
    linked_at = Timestamptz(default=TimestamptzNow())
    changed_at = Timestamptz(default=TimestamptzNow())


class LineLinkNonce(Table):
    """The nonce of one account-link attempt, bound to the account that asked for it; used once, within minutes.
    Only its SHA-256 is kept: the nonce itself travels through LINE and comes back in the webhook."""

    nonce_hash = Varchar(length=64, unique=True, required=True)
    account = ForeignKey(references=Account, on_delete=OnDelete.cascade, index=True)
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz(required=True)
    used_at = Timestamptz(null=True, default=None)


class LineDelivery(Table):
    """One notification to one linked LINE account: claimed with a lease and retried as push deliveries are.

    Unique (notification, line_link) by a raw migration, so a fan-out run twice adds nothing.
    """

    notification = ForeignKey(references=Notification, on_delete=OnDelete.cascade, index=True)
    line_link = ForeignKey(references=LineLink, null=True, on_delete=OnDelete.set_null)
    status = Varchar(length=16, default="queued", index=True)  # queued | sending (claimed) | sent | failed | skipped
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(default=TimestamptzNow(), index=True)
    claimed_until = Timestamptz(null=True, default=None)
    last_error = Varchar(length=200, default="")
    sent_at = Timestamptz(null=True, default=None)


class OutboxMail(Table):
    """A mail saved before it is sent, in the same transaction as what it tells of, and retried until the
    mail server takes it: an SMTP failure never loses a receipt, a reply or an invitation."""

    to_address = Varchar(length=254, required=True)
    subject = Varchar(length=200, required=True)
    body = Text(required=True)
    reply_to = Varchar(length=254, default="")
    message_id = Varchar(length=200, required=True)  # Message-ID, so replies thread in the asker's mail program
    in_reply_to = Varchar(length=200, default="")
    purpose = Varchar(length=32, default="")  # inquiry_receipt | inquiry_reply | inquiry_staff | survey_invite | ...
    status = Varchar(length=16, default="queued", index=True)  # queued | sent | failed
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(default=TimestamptzNow(), index=True)
    claimed_until = Timestamptz(null=True, default=None)
    last_error = Varchar(length=200, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    sent_at = Timestamptz(null=True, default=None)
    # Headers this mail carries beyond the usual ones, e.g. the digest's List-Unsubscribe (RFC 8058)
    headers = JSON(default="{}")


class Digest(Table):
    """One member's weekly digest (週1回の新着メール). Unique (member, week) by a raw migration: inserted in the
    transaction that queues its mail, so a week's digest is made once however many rounds run at once or a
    process restarts. A week with nothing new has its row too, without a mail."""

    member = ForeignKey(references=Member, on_delete=OnDelete.cascade, index=True)
    week = Date(required=True)  # the day of the week's sending time in Japan (a Friday)
    covered_until = Timestamptz(required=True)  # what was published before this is in it; the next one starts here
    programs = Integer(default=0)
    articles = Integer(default=0)
    mail = ForeignKey(references=OutboxMail, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())


class Survey(Table):
    """A questionnaire (アンケート) built by staff and sent to the members a target chooses.

    A follow-up survey hangs on a program and opens `follow_up_days` after it ends (built by staff, or made by
    the follow-up journey rule); the others open when published. `opens_at` is fixed at publication; invitations go out once (`invited_at`) and one reminder
    before `closes_at` (`reminded_at`).
    """

    title = Varchar(length=120, required=True)
    intro = Text(default="")
    status = Varchar(length=16, default="draft", index=True)  # draft | published | closed
    anonymous = Boolean(default=False)  # results never show who answered
    target = JSON(default="{}")  # {"kind": program|area_participants|area_followers|tier|everyone, "program", "area", "tier"}
    program = ForeignKey(references=Program, null=True, on_delete=OnDelete.set_null)
    follow_up_days = Integer(null=True, default=None)  # days after the program ends; None = when published
    # The journey rule that made it (journeys/follow_up_survey.py), None when staff built it. Unique (program,
    # follow_up_days, made_by_rule) by a raw migration: a rule makes each follow-up of a program once, however
    # many rounds run at once; staff's own (NULL here) are never held by it.
    made_by_rule = Varchar(length=48, null=True, default=None)
    open_days = Integer(default=14)  # how long a follow-up stays open after it is sent
    opens_at = Timestamptz(null=True, default=None, index=True)
    closes_at = Timestamptz(null=True, default=None)
    invited_at = Timestamptz(null=True, default=None)
    reminded_at = Timestamptz(null=True, default=None)
    created_by = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    published_at = Timestamptz(null=True, default=None)


class SurveyQuestion(Table):
    """One question, in `position` order. Options are fixed once the survey is published, so an answer's
    `choice` (an index into them) keeps its meaning."""

    survey = ForeignKey(references=Survey, on_delete=OnDelete.cascade, index=True)
    position = Integer(default=0)
    kind = Varchar(length=16, required=True)  # single | multiple | scale | short | long
    key = Varchar(length=32, default="")  # a template question the dashboard reads, e.g. "intent_to_move"
    text = Varchar(length=300, required=True)
    required = Boolean(default=True)
    options = JSON(default="[]")  # choices; for a scale the labels of 1 and 5


class SurveyInvitation(Table):
    """The survey is addressed to this account. Unique (survey, account) by a raw migration."""

    survey = ForeignKey(references=Survey, on_delete=OnDelete.cascade, index=True)
    account = ForeignKey(references=Account, on_delete=OnDelete.cascade, index=True)
    created_at = Timestamptz(default=TimestamptzNow())
    reminded_at = Timestamptz(null=True, default=None)
    responded_at = Timestamptz(null=True, default=None)


class SurveyResponse(Table):
    """One member's submission. Unique (survey, account) by a raw migration: a double tap or a second
    device never makes two. The home prefecture is kept as it was, for filtering the results."""

    survey = ForeignKey(references=Survey, on_delete=OnDelete.cascade, index=True)
    account = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    home_prefecture = Varchar(length=2, default="")
    submitted_at = Timestamptz(default=TimestamptzNow())


class SurveyAnswer(Table):
    """An answer to one question: a chosen option (one row per option for multiple choice), a scale
    value, or text. Staff can hide a free-text answer from exports."""

    response = ForeignKey(references=SurveyResponse, on_delete=OnDelete.cascade, index=True)
    question = ForeignKey(references=SurveyQuestion, on_delete=OnDelete.cascade, index=True)
    choice = Integer(null=True, default=None)
    number = Integer(null=True, default=None)
    text = Text(default="")
    hidden = Boolean(default=False)


class Inquiry(Table):
    """A question to the consultation desk (相談窓口): from the public form, a member, or noted by staff
    from a phone call. Nothing asked is lost: the first message is stored with it in one transaction."""

    reference = Varchar(length=20, unique=True, required=True)  # shown to the asker, e.g. "Q-2611-7K3M"
    name = Varchar(length=100, required=True)
    furigana = Varchar(length=100, default="")  # the name's reading, so the desk says it right on the phone
    email = Varchar(length=254, default="")
    phone = Varchar(length=32, default="")
    contact_method = Varchar(length=16, default="email")  # email | phone | app
    category = Varchar(length=32, required=True)
    account = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null, index=True)
    channel = Varchar(length=16, default="web")  # web | phone | mail (how it reached the desk)
    status = Varchar(length=16, default="new", index=True)  # new | in_progress | waiting | closed
    assignee = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    consent_version = Varchar(length=32, default="")
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    updated_at = Timestamptz(default=TimestamptzNow())
    last_message_at = Timestamptz(default=TimestamptzNow())


class InquiryMessage(Table):
    """One message of an inquiry's thread, in order: from the asker, a reply from staff, or an internal
    note the asker never sees."""

    inquiry = ForeignKey(references=Inquiry, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=16, required=True)  # asker | reply | note
    author = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    body = Text(required=True)
    channel = Varchar(length=16, default="web")  # web | app | email | phone
    mail = ForeignKey(references=OutboxMail, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow(), index=True)


class DeskMail(Table):
    """A mail read from the desk's mailbox (IMAP) and what became of it. Marked by its place in the mailbox
    (unique (mailbox, uidvalidity, uid), by a raw migration) and by its Message-ID (`message_key`, unique), and
    claimed before it is read: a mail becomes one message however many rounds run, even across a restart.
    The mailbox keeps every mail; the whole text is kept here, the thread shows it without the quoted part."""

    mailbox = Varchar(length=300, required=True)  # user@host:port/folder
    uidvalidity = BigInt(required=True)
    uid = BigInt(required=True)
    # Message-ID, or "sha256:…" of a mail without one; None on another copy of a mail already read (status "copy")
    message_key = Varchar(length=300, null=True, default=None, unique=True)
    status = Varchar(length=16, default="claimed", index=True)  # claimed | done | copy | failed
    claim = Varchar(length=32, default="")  # whose claim it is: a round only marks what it still holds
    claimed_until = Timestamptz(null=True, default=None)
    attempts = Integer(default=0)
    inquiry = ForeignKey(references=Inquiry, null=True, on_delete=OnDelete.set_null, index=True)
    message = ForeignKey(references=InquiryMessage, null=True, on_delete=OnDelete.set_null, index=True)
    from_address = Varchar(length=254, default="")
    from_name = Varchar(length=200, default="")
    subject = Varchar(length=300, default="")
    full_text = Text(default="")
    attachments = JSON(default="[]")  # [{"filename", "url", "content_type"} | {"filename", "refused"}]
    problems = JSON(default="[]")  # codes of what was wrong with it (mail_reading.PROBLEMS)
    sent_at = Timestamptz(null=True, default=None)  # its Date header
    created_at = Timestamptz(default=TimestamptzNow())


class ReplyTemplate(Table):
    """A saved answer to a common question, for the desk's replies."""

    title = Varchar(length=100, required=True)
    body = Text(required=True)
    category = Varchar(length=32, default="")
    updated_by = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    updated_at = Timestamptz(default=TimestamptzNow())


class KpiTarget(Table):
    """A yearly target the secretariat sets (fiscal year April–March). Unique (fiscal_year, metric, area)
    by a raw migration; area 0 stands for the whole region."""

    fiscal_year = Integer(required=True)
    metric = Varchar(length=32, required=True)  # registrations | participants | activations | redemptions | response_rate
    area_id = Integer(default=0)
    value = Integer(required=True)
    updated_by = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    updated_at = Timestamptz(default=TimestamptzNow())


class ReportSection(Table):
    """A free-text section of the yearly report staff write (effects, issues, next year's direction)."""

    fiscal_year = Integer(required=True)
    key = Varchar(length=32, required=True)  # effects | issues | direction
    body = Text(default="")
    updated_by = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    updated_at = Timestamptz(default=TimestamptzNow())


class DiaryEntry(Table):
    """A line of the secretariat's daily record (日報): what one person did on a day, for how long, and which
    programs, inquiries and articles it concerned (`refs`: [{"kind": "program" | "inquiry" | "article", "id"}])."""

    day = Date(index=True)
    author = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null, index=True)
    work = Text(required=True)
    minutes = Integer(default=0)
    refs = JSON(default="[]")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Incident(Table):
    """Something that went wrong (トラブル・事故報告): what happened and when, who was affected, what was done,
    who was told and when; open until closed. Every change is audited."""

    occurred_at = Timestamptz(index=True)
    title = Varchar(length=120, required=True)
    what_happened = Text(required=True)
    affected = Text(default="")
    actions = Text(default="")
    told = Varchar(length=200, default="")  # who was told: the secretariat, the prefecture's office, the police…
    told_at = Timestamptz(null=True, default=None)
    status = Varchar(length=16, default="open", index=True)  # open | closed
    closed_at = Timestamptz(null=True, default=None)
    created_by = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Budget(Table):
    """An area's 受入支援 budget for a fiscal year (seed 000 §8(1), about ¥500,000 per area). Unique (area, fiscal
    year) by a raw migration; an area without a row has the default amount."""

    area = ForeignKey(references=Area, on_delete=OnDelete.cascade, index=True)
    fiscal_year = Integer(required=True)
    amount = Integer(required=True)  # whole yen
    updated_by = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    updated_at = Timestamptz(default=TimestamptzNow())


class Spending(Table):
    """One payment against an area's budget: entered by its editor (or staff), confirmed by staff. A payment that
    takes the area past its budget carries the reason it was made all the same."""

    area = ForeignKey(references=Area, on_delete=OnDelete.cascade, index=True)
    fiscal_year = Integer(required=True, index=True)
    program = ForeignKey(references=Program, null=True, on_delete=OnDelete.set_null)
    spent_on = Date()
    payee = Varchar(length=100, required=True)
    purpose = Varchar(length=200, required=True)
    amount = Integer(required=True)  # whole yen
    receipt_url = Varchar(length=500, default="")  # /uploads/<name>: a photo or a PDF, checked by its content
    over_reason = Text(default="")
    status = Varchar(length=16, default="entered")  # entered | confirmed
    entered_by = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    confirmed_by = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    confirmed_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class CampaignVisit(Table):
    """Arrivals by a campaign in a month (Japan time), crawlers left out. Unique (campaign, month) by a raw
    migration; counted in each process and added here in batches (app/services/campaigns/page_views.py)."""

    campaign = ForeignKey(references=Campaign, on_delete=OnDelete.cascade, index=True)
    month = Varchar(length=7, required=True)  # "2026-11"
    visits = Integer(default=0)


class PageView(Table):
    """Views of the public portal, program pages and articles in a month (Japan time): counted on the server, no
    cookie, crawlers, HEAD and answers other than 200 left out. Unique (month, kind) by a raw migration; each process
    adds its counts in batches."""

    month = Varchar(length=7, required=True)  # "2026-11"
    kind = Varchar(length=16, required=True)  # portal | program | article
    views = Integer(default=0)


class PageViewSeen(Table):
    """The (visitor, page) pairs of a day whose view was counted, as keyed digests (app/services/campaigns/
    page_views.py): a page counts once per visitor and day across processes. Unique (day, digest) by a raw
    migration; a day's rows are deleted once it is over."""

    day = Varchar(length=10, required=True)  # "2026-11-03", Japan time
    digest = BigInt(required=True)  # 63 bits of a keyed hash of the day, the page, the address and the User-Agent
    kind = Varchar(length=16, required=True)  # the page's kind, as PageView counts it
class TravelSubsidy(Table):
    """A program eligible for the travel subsidy (関係人口来県支援交通費補助金, seed 000 §8(2)) and its rules, set by the
    secretariat: at most so much per person, for these means of transport, claims filed by this day. A program
    without a row is not eligible. A municipality's or local group's own matching project is a program of its area
    with the organiser named here."""

    program = ForeignKey(references=Program, unique=True, on_delete=OnDelete.cascade)
    scheme = Varchar(length=100, default="")  # the subsidy's name as the prefecture publishes it
    organiser = Varchar(length=100, default="")  # who runs it as their own matching project; "" = the secretariat
    max_amount = Integer(required=True)  # whole yen per person
    transports = JSON(default="[]")  # what it covers: rail | air | bus | ship | car | rental_car
    deadline = Date()  # the last day (Japan) a claim can be filed
    conditions = Text(default="")  # further conditions members read on the program's page
    updated_by = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    updated_at = Timestamptz(default=TimestamptzNow())


class TravelClaim(Table):
    """A participant's claim under the travel subsidy for a program they attended: the trip, its fare and receipts.
    The secretariat approves it (at a lower amount with a note), returns it for a correction, declines it with a
    reason, and marks it paid. One per program and member (a unique index by a raw migration); every step is a
    conditional UPDATE on the status it leaves, so two decisions at once give one."""

    program = ForeignKey(references=Program, on_delete=OnDelete.cascade, index=True)
    member = ForeignKey(references=Member, on_delete=OnDelete.cascade, index=True)
    fiscal_year = Integer(required=True, index=True)  # the program's (the trip's), whenever it is paid
    status = Varchar(length=16, default="submitted", index=True)  # submitted | returned | approved | declined | paid | withdrawn
    departure = Varchar(length=100, default="")  # where the trip started (出発地)
    route = Text(default="")  # the way there and back
    transports = JSON(default="[]")
    outbound_on = Date()
    return_on = Date()
    fare = Integer(required=True)  # whole yen paid, as on the receipts
    max_amount = Integer(required=True)  # the program's maximum when the claim was filed
    amount = Integer(required=True)  # whole yen claimed: the fare, up to the maximum
    approved_amount = Integer(null=True, default=None)
    receipts = JSON(default="[]")  # /uploads/<name> of photos or PDFs, checked by their content
    note = Text(default="")  # what the secretariat told the member at its last step (why returned or declined, a lower amount)
    submitted_at = Timestamptz(default=TimestamptzNow())
    decided_by = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    decided_at = Timestamptz(null=True, default=None)
    paid_on = Date(null=True, default=None)
    paid_by = ForeignKey(references=Account, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
