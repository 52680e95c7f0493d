"""The staff console's navigation: one list of where the work starts, grouped by domain, with what waits in each.

On a desktop it stands at the side of every staff and editor page (base.html); the secretariat's home shows the
same groups as cards. Items appear once their route exists, as the bottom navigation's do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from jinja2 import pass_context
from litestar import Request

from app.auth import current_account
from app.i18n import lazy_gettext as _l
from app.rendering import wants_fragment
from app.services.console import attention

# (group, ((route, label, icon, what-waits key or None, test id), ...)) for the secretariat. A route may name a
# query ("list_moderation?kind=premium"): one page's filtered view with a count of its own.
STAFF_MENU = (
    (_l("Members"), (
        ("list_members", _l("Members"), "user", None, "staff-members"),
        ("list_invitations", _l("Invite staff, editors and shops"), "key", None, "staff-invitations"),
        ("new_registrant_import", _l("Import registrants"), "download", None, "staff-import-registrants"),
        ("verify_card", _l("Check a member card"), "card", None, "staff-verify-card"),
    )),
    (_l("Content and review"), (
        ("list_moderation", _l("Review queue"), "shield", "review", "staff-moderation"),
        ("list_moderation?kind=premium", _l("Premium applications"), "star", "premium", "staff-premium"),
        ("list_editor_articles", _l("Articles"), "chat", None, "staff-articles"),
        ("edit_portal", _l("Portal"), "globe", None, "staff-portal"),
        ("get_static_export", _l("Portal as HTML files"), "download", None, "staff-static-export"),
    )),
    (_l("Programs and activities"), (
        ("list_editor_programs", _l("Programs"), "compass", None, "staff-programs"),
        ("list_editor_activities", _l("Local activities"), "compass", None, "staff-activity-list"),
        ("list_active_members", _l("Members with three or more activities"), "user", None, "staff-activities"),
        ("list_areas", _l("Areas"), "home", None, "staff-areas"),
        ("list_budgets", _l("Hosting budgets"), "gift", None, "staff-budgets"),
        ("list_travel_claims", _l("Travel subsidy claims"), "ticket", "claims", "staff-travel-claims"),
    )),
    (_l("Entry pass and shops"), (
        ("list_staff_shops", _l("Partner shops and offers"), "gift", None, "staff-shops"),
        ("list_staff_passes", _l("Entry passes"), "ticket", None, "staff-passes"),
        ("list_wallet_passes", _l("Members' entry passes"), "shield", None, "staff-wallet-passes"),
        ("get_wallet_analysis", _l("Entry pass usage"), "download", None, "staff-wallet-analysis"),
        ("list_redemptions", _l("Redemptions"), "ticket", None, "staff-redemptions"),
        ("list_counter_conflicts", _l("Counter conflicts"), "shield", "conflicts", "staff-conflicts"),
    )),
    (_l("Notifications and surveys"), (
        ("list_notifications", _l("Push notifications"), "bell", None, "staff-push"),
        ("list_surveys", _l("Surveys"), "chat", None, "staff-surveys"),
        ("list_campaigns", _l("Campaign links"), "arrow", None, "staff-campaigns"),
    )),
    (_l("Consultation desk"), (
        ("list_staff_inquiries", _l("Desk inbox"), "chat", "inquiries", "staff-inquiries"),
    )),
    (_l("Dashboard and report"), (
        ("get_dashboard", _l("KPI dashboard and targets"), "compass", None, "staff-dashboard"),
        ("get_report", _l("Yearly report"), "download", None, "staff-report"),
        ("list_journey_rules", _l("Journey rules"), "arrow", None, "staff-journeys"),
    )),
    (_l("Secretariat's records"), (
        ("list_diary", _l("Daily record"), "compass", None, "staff-diary"),
        ("list_incidents", _l("Incident log"), "shield", "incidents", "staff-incidents"),
    )),
    (_l("Settings and handover"), (
        ("get_handover", _l("Handover: all data"), "download", None, "staff-handover"),
        ("list_audit_log", _l("Audit log"), "shield", None, "staff-audit-log"),
        ("get_retention", _l("Records past their retention period"), "shield", None, "staff-retention"),
    )),
)
EDITOR_MENU = (
    (_l("Programs and activities"), (
        ("list_editor_programs", _l("Programs"), "compass", None, "editor-programs"),
        ("list_editor_activities", _l("Local activities"), "compass", None, "editor-activities"),
        ("list_budgets", _l("Hosting budgets"), "gift", None, "editor-budgets"),
    )),
    (_l("Content and review"), (
        ("list_editor_articles", _l("Articles"), "chat", None, "editor-articles"),
        ("new_upload", _l("Images"), "download", None, "editor-uploads"),
    )),
)
MENUS = {"staff": STAFF_MENU, "editor": EDITOR_MENU}
ATTENTION = "console.attention"  # scope state key: the counts, loaded once per page


async def load_attention(request: Request) -> None:
    """Before a page is rendered, the secretariat's queues for the counts beside a staff page. Fragments show
    no navigation, so they cost no query. (The unread notices on the inbox tab of everyone else's bottom bar
    come with the login's lookup: CurrentAccount.unread.)"""
    account = current_account(request)
    if account is not None and account.role == "staff" and not wants_fragment(request):
        request.scope["state"][ATTENTION] = await attention.counts()


def menu_groups(app, role: str, path: str, counts: Mapping[str, int], query: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The role's menu with addresses, the current item and counts. The current item is the one whose address
    this page is at or under, with all of the item's query in this page's (`query`), the most precise first."""
    query = query or {}
    groups, matches = [], []
    for group, items in MENUS.get(role, ()):
        entries = []
        for route, label, icon, key, testid in items:
            name, _sep, wanted = route.partition("?")
            if app.get_handler_index_by_name(name) is None:
                continue
            href = app.route_reverse(name)
            entry = {"href": f"{href}?{wanted}" if wanted else href, "label": str(label), "icon": icon,
                     "count": counts.get(key, 0) if key else 0, "testid": testid, "current": False}
            params = dict(parse_qsl(wanted))
            if (path == href or path.startswith(href + "/")) and params.items() <= dict(query).items():
                matches.append(((len(href), len(params)), entry))
            entries.append(entry)
        if entries:
            groups.append({"label": str(group), "items": entries})
    if matches:
        max(matches, key=lambda match: match[0])[1]["current"] = True
    return groups


@pass_context
def console_nav(context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The template global base.html asks for: the groups for a staff or editor page, nothing for anyone else."""
    request = context["request"]
    account = request.scope.get("state", {}).get("account")
    if account is None or account.role not in MENUS:
        return []
    return menu_groups(request.app, account.role, request.url.path, request.scope["state"].get(ATTENTION, {}),
                       request.query_params)
