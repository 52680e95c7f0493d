"""Push notifications: a member's opt-in, devices and topics; the secretariat's composer and its record;
the announcement of a newly published program. The rules live in app/services/notify/ (push_subscriptions:
devices and preferences; push_notifications: who is reached); the sender is woken after anything is queued
(app/push_sender.py)."""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import urlencode, urlsplit

from litestar import Request, get, post
from litestar.response import Response

from app import guards
from app.auth import current_account
from app.i18n import TOKYO, current_locale, format_datetime
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.push_sender import wake_sender
from app.rendering import page, see_other
from app.routes.forms import form_dict
from app.services.membership.membership import TIER_LABELS
from app.services.notify import digest, push_notifications, push_subscriptions
from app.services.notify.push_notifications import Target
from app.services.notify.push_subscriptions import Preferences, PushRefused
from app.services.programs import areas
from app.services.shared import clock
from app.services.shared.devices import device_label
from app.services.shared.reference import PREFECTURE_CODES, PREFECTURES, REGIONS, with_regions

REFUSALS = {
    "bad_json": _l("What the browser sent could not be read. Reload the page and try again."),
    "bad_endpoint": _l("This browser's push service address was refused. Try again in another browser."),
    "bad_keys": _l("This browser's push keys could not be read. Turn notifications off and on again."),
    "not_found": _l("This device is not registered for notifications. Turn them on again on the notifications page."),
    "json_only": _l("This address accepts JSON only."),
}
TOPIC_LABELS = {
    "news": _l("News from the secretariat"),
    "events": _l("Online exchange meetings"),
    "programs": _l("New programs"),
    "surveys": _l("Surveys"),
    "test": _l("Test"),
}
PROGRAM_CHOICES = {
    "followed": _l("Only in the areas I follow"),
    "all": _l("In every area"),
    "none": _l("Do not notify me"),
}
NOTIFICATIONS_PAGE = 30


def refusal(code: str, status_code: int = 400) -> Response:
    """A JSON error the page shows as it is, in the person's language."""
    return Response({"code": code, "detail": str(REFUSALS.get(code, REFUSALS["bad_json"]))}, status_code=status_code,
                    headers={"Cache-Control": "no-store"})


# --- member: the settings page ------------------------------------------------------------------


@get("/account/notifications", name="get_push_settings", guards=[guards.member], cache_control=None)
async def get_push_settings(request: Request) -> object:
    account = current_account(request)
    context = {
        "prefs": await push_subscriptions.preferences(account.id),
        "devices": await push_subscriptions.list_devices(account.id),
        "vapid_public_key": request.app.state.settings.vapid_public_key,
        "program_choices": [(code, str(label)) for code, label in PROGRAM_CHOICES.items()],
        "digest": await digest.choice(account.id),
    }
    # The device list alone, for push.js to refresh it after this device subscribed or left (any other HTMX
    # visit gets the whole page).
    fragment = "notify/push/_devices.html" if request.headers.get("hx-target") == "push-devices" else None
    return page(request, "notify/push/settings.html", context, fragment=fragment, cache="no-store")


def _subscription_fields(data: object) -> tuple[str, str, str]:
    """(endpoint, p256dh, auth) from PushSubscription.toJSON(); PushRefused when it is not that shape."""
    if not isinstance(data, dict) or not isinstance(data.get("keys"), dict):
        raise PushRefused("bad_keys" if isinstance(data, dict) and data.get("endpoint") else "bad_json")
    endpoint, keys = data.get("endpoint"), data["keys"]
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    if not isinstance(endpoint, str):
        raise PushRefused("bad_endpoint")
    if not isinstance(p256dh, str) or not isinstance(auth, str):
        raise PushRefused("bad_keys")
    return endpoint, p256dh, auth


async def _json_body(request: Request) -> object:
    try:
        return json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise PushRefused("bad_json") from None


@post("/push/subscriptions", name="create_push_subscription", guards=[guards.member])
async def create_push_subscription(request: Request) -> Response:
    """This device's subscription (PushSubscription.toJSON()), sent by push.js with the CSRF header."""
    account = current_account(request)
    try:
        endpoint, p256dh, auth = _subscription_fields(await _json_body(request))
        label = device_label(request.headers.get("user-agent", ""))
        await push_subscriptions.subscribe(account.id, endpoint, p256dh, auth, label, request.app.state.push_hosts)
    except PushRefused as refused:
        return refusal(refused.reason)
    return Response({"ok": True, "detail": _("Notifications are on for this device.")}, headers={"Cache-Control": "no-store"})


@post("/push/subscriptions/delete", name="delete_push_subscription", guards=[guards.member], status_code=200)
async def delete_push_subscription(request: Request) -> Response:
    """Forget this device ({"endpoint": …}); push.js then unsubscribes it in the browser too."""
    account = current_account(request)
    try:
        data = await _json_body(request)
    except PushRefused as refused:
        return refusal(refused.reason)
    endpoint = data.get("endpoint") if isinstance(data, dict) else None
    if not isinstance(endpoint, str) or not endpoint:
        return refusal("bad_endpoint")
    # Already gone (the push service expired it) counts as done: the device is off either way.
    await push_subscriptions.unsubscribe(account.id, endpoint)
    return Response({"ok": True, "detail": _("Notifications are off for this device.")}, headers={"Cache-Control": "no-store"})


# The service worker's `pushsubscriptionchange` handler calls this when the browser replaced the
# subscription. A service worker cannot read the page's CSRF token (no DOM, and the CSRF cookie is
# HttpOnly), so the endpoint is exempt from Litestar's CSRF check and stands on three other things:
# 1. the login cookie (SameSite=Lax: a cross-site POST does not carry it at all);
# 2. Content-Type must be application/json: a cross-site <form> cannot send that, and a cross-site fetch
#    with it needs a CORS preflight, which this app never answers;
# 3. the old endpoint must be a subscription of the logged-in account: an unguessable capability URL that
#    only that browser knows, so nothing can be attached to an account without already owning one of its
#    devices.
@post("/push/subscriptions/renew", name="renew_push_subscription", guards=[guards.member], status_code=200,
      exclude_from_csrf=True)
async def renew_push_subscription(request: Request) -> Response:
    account = current_account(request)
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        return refusal("json_only", 415)
    try:
        data = await _json_body(request)
        if not isinstance(data, dict):
            raise PushRefused("bad_json")
        old_endpoint = data.get("old_endpoint")
        endpoint, p256dh, auth = _subscription_fields(data.get("subscription"))
    except PushRefused as refused:
        return refusal(refused.reason)
    if not isinstance(old_endpoint, str):
        return refusal("not_found", 404)
    try:
        await push_subscriptions.renew_subscription(account.id, old_endpoint, endpoint, p256dh, auth,
                                                    request.app.state.push_hosts)
    except PushRefused as refused:
        return refusal(refused.reason, 404 if refused.reason == "not_found" else 400)
    return Response({"ok": True}, headers={"Cache-Control": "no-store"})


def _flag(form: dict, name: str) -> bool:
    return form.get(name) in ("1", "on", "true")


@post("/account/notifications/preferences", name="update_push_preferences", guards=[guards.member])
async def update_push_preferences(request: Request) -> object:
    account = current_account(request)
    form = await form_dict(request)
    programs = form.get("programs")
    prefs = Preferences(programs=programs if isinstance(programs, str) else "", events=_flag(form, "events"),
                        surveys=_flag(form, "surveys"), news=_flag(form, "news"))
    try:
        await push_subscriptions.save_preferences(account.id, prefs)
    except PushRefused:
        request.session["flash"] = _("Choose which new programs to hear about.")
    else:
        request.session["flash"] = _("Your notification settings were saved.")
    return see_other(request, request.app.route_reverse("get_push_settings"))


@post("/account/notifications/test", name="send_test_push", guards=[guards.member])
async def send_test_push(request: Request) -> object:
    account = current_account(request)
    await push_notifications.create_notification(
        Target(topic="test", account_ids=[account.id]),
        _("Test notification"),
        _("Notifications reach this device. You can change what you receive in your account."),
        request.app.route_reverse("get_push_settings"),
        created_by=account.id,
    )
    wake_sender(request)
    if await push_subscriptions.has_devices(account.id):
        request.session["flash"] = _("A test notification is on its way. It should arrive within a minute.")
    else:
        request.session["flash"] = _("No device receives notifications yet: the test was put in your news only. Turn notifications on first.")
    return see_other(request, request.app.route_reverse("get_push_settings"))


# --- staff: the record and the composer ------------------------------------------------------------


@get("/staff/push", name="list_notifications", guards=[guards.staff], cache_control=None)
async def list_notifications(request: Request) -> object:
    notifications = await push_notifications.recent_notifications(NOTIFICATIONS_PAGE)
    context = {
        "notifications": notifications,
        "now": clock.now(),
        "topic_label": lambda topic: str(TOPIC_LABELS.get(topic, topic)),
        # While anything is still waiting to be sent, the counts refresh by themselves.
        "busy": any(n["waiting"] or n["status"] == "scheduled" for n in notifications),
    }
    # Only the table's own refresh gets the rows alone.
    fragment = "notify/staff/_notification_rows.html" if request.headers.get("hx-target") == "notification-rows" else None
    return page(request, "notify/staff/list.html", context, fragment=fragment, cache="no-store")


def _list(values: object) -> list[str]:
    if values is None:
        return []
    return [str(v) for v in (values if isinstance(values, list) else [values]) if str(v)]


def _target_from(values: dict, area_ids: set[int]) -> Target:
    """The targeting fields of the composer (unknown values are dropped, they never widen a target)."""
    topic = values.get("topic") if values.get("topic") in push_notifications.TOPICS else "news"
    return Target(
        topic=str(topic),
        area_ids=[int(a) for a in values.get("areas", []) if a.isdecimal() and int(a) in area_ids],
        tiers=[t for t in values.get("tiers", []) if t in TIER_LABELS],
        prefectures=[p for p in values.get("prefectures", []) if p in PREFECTURE_CODES],
    )


def _composer_values(source: dict) -> dict:
    """What the composer shows: text as typed, lists for the repeated fields."""
    single = {name: (source.get(name)[0] if isinstance(source.get(name), list) and source.get(name) else source.get(name))
              for name in ("title", "body", "url", "topic", "when", "send_at")}
    values = {name: str(value or "") for name, value in single.items()}
    values["when"] = values["when"] if values["when"] in ("now", "later") else "now"
    values["topic"] = values["topic"] if values["topic"] in push_notifications.TOPICS else "news"
    for name in ("areas", "tiers"):
        values[name] = _list(source.get(name))
    # A region ticked whole stands for its prefectures (so the choice also works without JavaScript).
    values["prefectures"] = with_regions(_list(source.get("prefectures")), _list(source.get("regions")))
    return values


async def composer_context(values: dict, errors: dict | None = None) -> dict:
    area_rows = await areas.choices()
    target = _target_from(values, {a["id"] for a in area_rows})
    locale = current_locale.get()
    names = {code: ja if locale == "ja" else en for code, ja, en in PREFECTURES}
    return {
        "values": values,
        "errors": errors or {},
        "topics": [(code, str(TOPIC_LABELS[code])) for code in push_notifications.TOPICS],
        "areas": [(str(a["id"]), a["name"]) for a in area_rows],
        "tiers": [(code, str(label)) for code, label in TIER_LABELS.items()],
        "regions": [
            {"key": key, "name": ja if locale == "ja" else en, "whole": set(codes) <= set(target.prefectures),
             "prefectures": [(code, names[code]) for code in codes]}
            for key, ja, en, codes in REGIONS
        ],
        "prefecture_names": names,
        "reach": await push_notifications.reach(target),
    }


def _query_values(request: Request) -> dict:
    return _composer_values({key: request.query_params.getall(key) for key in request.query_params.keys()})


@get("/staff/push/new", name="new_notification", guards=[guards.staff], cache_control=None)
async def new_notification(request: Request) -> object:
    """The composer: empty, or filled as it was when staff chose to change something on the confirmation."""
    return page(request, "notify/staff/new.html", await composer_context(_query_values(request)), cache="no-store")


@get("/staff/push/reach", name="preview_reach", guards=[guards.staff], cache_control=None)
async def preview_reach(request: Request) -> object:
    """How many members and devices the composer's targeting reaches: the fragment for HTMX, otherwise
    the composer itself with the count (the form's no-JavaScript "check" button)."""
    context = await composer_context(_query_values(request))
    return page(request, "notify/staff/new.html", context, fragment="notify/staff/_reach.html", cache="no-store")


def _edit_url(request: Request, values: dict) -> str:
    """The composer again, filled with these values (the confirmation's "change" link)."""
    query = [(name, values[name]) for name in ("title", "body", "url", "topic", "when", "send_at") if values[name]]
    query += [(name, value) for name in ("areas", "tiers", "prefectures") for value in values[name]]
    return request.app.route_reverse("new_notification") + "?" + urlencode(query)


def _check_url(url: str) -> bool:
    """A page of this site ("/programs/3") or an https address; nothing else opens from a notification."""
    if not url:
        return True
    if len(url) > 500 or any(c in url for c in "\\\r\n\t ") or url.startswith("//"):
        return False
    if url.startswith("/"):
        return True
    parts = urlsplit(url)
    return parts.scheme == "https" and bool(parts.hostname)


def _send_at(values: dict, errors: dict) -> datetime | None:
    if values["when"] != "later":
        return None
    try:
        moment = datetime.fromisoformat(values["send_at"]) if values["send_at"] else None
    except ValueError:
        moment = None
    if moment is None:
        errors["send_at"] = _("Enter the date and time to send, in Japan time.")
        return None
    moment = moment.replace(tzinfo=TOKYO) if moment.tzinfo is None else moment
    if moment <= clock.now():
        errors["send_at"] = _("Choose a time in the future, or send now.")
    return moment


@post("/staff/push", name="create_notification_send", guards=[guards.staff])
async def create_notification_send(request: Request) -> object:
    form = await form_dict(request)
    values = _composer_values(form)
    errors: dict[str, str] = {}
    title, body, url = values["title"].strip(), values["body"].strip(), values["url"].strip()
    if not title:
        errors["title"] = _("Enter a title.")
    elif len(title) > push_notifications.TITLE_MAX:
        errors["title"] = _("Keep the title to 120 characters or fewer.")
    if len(body) > 500:
        errors["body"] = _("Keep the text to 500 characters or fewer.")
    if not _check_url(url):
        errors["url"] = _("Enter a page of this site starting with / or an address starting with https://.")
    send_at = _send_at(values, errors)
    context = await composer_context(values)
    if not errors and form.get("confirmed") != "1":
        # Nothing goes out before staff have seen it as members will, and how many it reaches.
        context.update(send_at=send_at, edit_url=_edit_url(request, values))
        return page(request, "notify/staff/confirm.html", context, fragment="notify/staff/_confirm.html", cache="no-store")
    if not errors:
        target = _target_from(values, {int(a) for a, _name in context["areas"]})
        try:
            await push_notifications.create_notification(target, title, body, url, current_account(request).id, send_at)
        except PushRefused:
            errors["body"] = _("The title and text are too long for a notification. Shorten them.")
    if errors:
        context["errors"] = errors
        return page(request, "notify/staff/new.html", context, fragment="notify/staff/_form.html", status_code=422,
                    cache="no-store")
    wake_sender(request)
    if send_at:
        request.session["flash"] = _("The notification will be sent on %(when)s.", when=format_datetime(send_at, "short"))
    else:
        request.session["flash"] = _("The notification is being sent.")
    return see_other(request, request.app.route_reverse("list_notifications"))


handlers = [
    get_push_settings, create_push_subscription, delete_push_subscription, renew_push_subscription,
    update_push_preferences, send_test_push, list_notifications, new_notification, preview_reach,
    create_notification_send,
]
