from litestar import Request, get

from app.auth import current_account
from app.i18n import current_locale
from app.i18n import gettext as _
from app.page_cache import MEMBER_PAGE, counted_page
from app.rendering import page
from app.services.portal.portal import LinkCard, load_portal
from app.settings import Settings


def default_links(settings: Settings) -> list[LinkCard]:
    return [
        LinkCard(_("Furusato tax donation"), _("Support the region and receive local produce."), settings.furusato_tax_url, "gift"),
        LinkCard(_("Moving here"), _("Housing, jobs and support for a new life here."), settings.migration_url, "home"),
        LinkCard(_("Workation"), _("Work remotely from a coworking space by the sea."), settings.workation_url, "laptop"),
    ]


# Kept for visitors and, per login, for members: the installed app opens here (start_url), so after a broadcast
# most members' first tap is this page.
@get("/", name="get_home", opt={**counted_page("portal"), **MEMBER_PAGE})
async def get_home(request: Request) -> object:
    settings: Settings = request.app.state.settings
    account = current_account(request)
    portal = await request.app.state.portal_cache.get(
        current_locale.get(),
        lambda: load_portal(settings.branding.site_name, settings.branding.tagline, default_links(settings)),
        version=account.shared_version if account else None,
    )
    return page(request, "portal/home.html", {"portal": portal})


handlers = [get_home]
