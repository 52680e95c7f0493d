"""The Jinja environment: translations, branding, static URLs with content hashes, the bottom navigation."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from jinja2 import BytecodeCache, Environment, FileSystemLoader, StrictUndefined, nodes, pass_context, select_autoescape
from jinja2.bccache import Bucket
from jinja2.exceptions import TemplateNotFound as JinjaTemplateNotFound
from jinja2.visitor import NodeTransformer
from litestar import Litestar
from litestar.exceptions import TemplateNotFoundException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.types.internal_types import PathParameterDefinition
from litestar.utils.path import join_paths

from app import i18n
from app.icons import inline_icons
from app.services.audit.retention import PURGED_NAME
from app.services.membership.erasure import ERASED_NAME
from app.settings import Settings
from app.static_pages import is_static_export

# The names the service writes in place of a person's (an erased account, an inquiry purged after its retention
# period) are stored in Japanese, the language of the records and their CSV files; a page shows them in its own
# language. Every printed value passes here (Jinja's `finalize`), so no template has to remember them.
STORED_NAMES = {ERASED_NAME: i18n.lazy_gettext("Former member"), PURGED_NAME: i18n.lazy_gettext("Deleted")}


def shown_in_page_language(value: Any) -> Any:
    if value.__class__ is str and value in STORED_NAMES:
        return str(STORED_NAMES[value])
    return value


TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

# The bottom navigation: (route name, label, icon) per role; visitors see the members' one. An item shows
# once its route exists, so each part of the product adds its own tab by registering the route.
_l = i18n.lazy_gettext
MEMBER_NAV = (
    ("get_home", _l("Home"), "home"),
    ("list_programs", _l("Programs"), "compass"),
    ("get_wallet", _l("Wallet"), "ticket"),
    ("get_card", _l("Card"), "card"),
    ("get_inbox", _l("News"), "bell"),
)
NAV_BY_ROLE = {
    "member": MEMBER_NAV,
    "shop": (("shop_home", _l("Today"), "home"), ("scan_wallet", _l("Scan"), "ticket"), ("get_account", _l("Account"), "user")),
    "staff": (("staff_home", _l("Secretariat"), "shield"), ("list_moderation", _l("Review"), "bell"),
              ("list_staff_inquiries", _l("Desk"), "chat"), ("list_members", _l("Members"), "user"),
              ("get_account", _l("Account"), "user")),
    "editor": (("list_editor_programs", _l("Programs"), "compass"), ("list_editor_articles", _l("Articles"), "chat"),
               ("get_inbox", _l("News"), "bell"), ("get_account", _l("Account"), "user")),
}


def static_hashes(directory: Path = STATIC_DIR) -> dict[str, str]:
    """Content hash of every static file, computed once at start: `?v=` changes only when the file does."""
    hashes = {}
    for path in directory.rglob("*"):
        if path.is_file():
            hashes[path.relative_to(directory).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    return hashes


class CompiledTemplates(BytecodeCache):
    """Each template compiled once per process and locale, whichever environment loads it: every environment
    made here for a locale has the same options, and Jinja compiles a template again when its source has changed
    (the checksum). A server makes one environment per locale; the tests make an app, and so its environments,
    again and again."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = {locale: CompiledTemplates() for locale in i18n.LOCALES}


class Addresses:
    """`url_for` in templates.

    Routes are fixed once the app exists, and a page asks for dozens of addresses (the head, the top bar, a link
    per program in a list). Litestar's route_reverse finds the handler's routes and picks one at every call: a
    fifth of the time the counter's answer spent in its template went there (py-spy). A route without path
    parameters has one address, looked up once; with parameters the pick depends only on their names, so it is
    made once per name and names (as route_reverse makes it), and a call only fills in the values: 3.2 against
    7.6 µs a call. A value of another type than the route's goes to route_reverse, whose error says what was
    wrong."""

    def __init__(self) -> None:
        self.plain: dict[str, str | None] = {}
        self.chosen: dict[tuple[str, frozenset[str]], list[str | PathParameterDefinition]] = {}

    def __call__(self, context: Mapping[str, Any], /, route_name: Any, **path_parameters: Any) -> str:
        app = context["request"].app
        if not isinstance(route_name, str):
            return app.route_reverse(route_name, **path_parameters)
        if not path_parameters:
            url = self.of(app, route_name)
            return url if url is not None else app.route_reverse(route_name)  # no such route: Litestar's error
        key = (route_name, frozenset(path_parameters))
        path = self.chosen.get(key)
        if path is None:
            path = self.chosen[key] = self.chosen_path(app, route_name, key[1])
        parts = []
        for part in path:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(value := path_parameters.get(part.name), part.type):
                parts.append(str(value))
            else:
                return app.route_reverse(route_name, **path_parameters)
        return join_paths(parts)

    def of(self, app: Litestar, route_name: str) -> str | None:
        """The address of a route without path parameters, looked up once; None when the app has no such route."""
        if route_name not in self.plain:
            known = app.get_handler_index_by_name(route_name) is not None
            self.plain[route_name] = app.route_reverse(route_name) if known else None
        return self.plain[route_name]

    @staticmethod
    def chosen_path(app: Litestar, route_name: str, names: frozenset[str]) -> list[str | PathParameterDefinition]:
        """Of the handler's routes, the first with the most parameters that are all given, else the one with the
        fewest: route_reverse's pick."""
        index = app.get_handler_index_by_name(route_name)
        if index is None:
            app.route_reverse(route_name)  # raises NoRouteMatchFoundException, as for any unknown name
        routes = sorted(app.asgi_router.route_mapping[index["identifier"]],
                        key=lambda route: len(route.path_parameters), reverse=True)
        return next((route for route in routes if names.issuperset(route.path_parameters)), routes[-1]).path_components


class TranslatedLiterals(NodeTransformer):
    """`_("a literal")` in a template, translated when the template is compiled for a locale.

    Every text of every page is such a call, and each call at render time went through Jinja's context call, the
    catalogue and a `Markup % {}`: about 7 µs, dozens of times a page. The translation of a literal depends only on
    the locale, so each locale's environment compiles it as the constant it is, and a call with variables as the
    constant `%` its variables. What the template gets is what the call
    gave (Jinja's newstyle gettext): the text marked safe where the template escapes, its variables escaped by
    the `%`, a literal `%%` written once. A text that cannot be formatted so is left to the call, which fails as
    it did. A template that names something else `_` or `gettext` keeps its calls."""

    NAMES = ("_", "gettext")

    def __init__(self, locale: str) -> None:
        self.catalogue = i18n.translations(locale)

    def translate(self, template: nodes.Template) -> nodes.Template:
        if any(name.name in self.NAMES and name.ctx != "load" for name in template.find_all(nodes.Name)):
            return template
        return self.visit(template)

    def visit_Call(self, node: nodes.Call) -> nodes.Node:
        node = self.generic_visit(node)
        if not (isinstance(node.node, nodes.Name) and node.node.name in self.NAMES and len(node.args) == 1
                and isinstance(node.args[0], nodes.Const) and isinstance(node.args[0].value, str)
                and node.dyn_args is None and node.dyn_kwargs is None):
            return node
        text = self.catalogue.gettext(node.args[0].value)
        lineno = node.lineno
        if node.kwargs:
            variables = nodes.Dict([nodes.Pair(nodes.Const(keyword.key, lineno=lineno), keyword.value, lineno=lineno)
                                    for keyword in node.kwargs], lineno=lineno)
            return nodes.Mod(nodes.MarkSafeIfAutoescape(nodes.Const(text, lineno=lineno), lineno=lineno), variables,
                             lineno=lineno)
        try:
            text = text % {}
        except (KeyError, ValueError, TypeError):
            return node
        return nodes.MarkSafeIfAutoescape(nodes.Const(text, lineno=lineno), lineno=lineno)


DICT_ATTRIBUTES = frozenset(dir(dict))


class PageEnvironment(Environment):
    """Jinja's environment for one locale, its literal texts translated as it compiles them (TranslatedLiterals),
    and each template reading the environment's globals directly.

    Jinja gives every template a ChainMap of its own globals over the environment's, and copies it into a new
    dict at every render (`new_context`): with our 28 globals that copy took 27 µs, against 0.6 µs from a
    dict. No template here has globals of its own, so the ChainMap only ever had an empty map in front: the
    environment's dict serves instead. (`get_template(name, globals=...)` on a template already loaded would
    now add to every template's globals; nothing here calls it so.)"""

    def __init__(self, locale: str, **options: Any) -> None:
        super().__init__(bytecode_cache=COMPILED_TEMPLATES[locale], **options)
        self.translated_literals = TranslatedLiterals(locale)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        # Jinja's one step between parsing and generating code (Environment.compile); it has no public hook there.
        return self.translated_literals.translate(super()._parse(source, name, filename))

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        return super().make_globals(d) if d else self.globals

    def getattr(self, obj: Any, attribute: str) -> Any:
        """`row.title` on a dict, as Jinja reads it, without its AttributeError first: the services' rows are
        dicts, and a staff list reads some 500 fields a page (1.66 against 0.21 µs a field). A dict has no
        attribute of its own but its methods, so for any other name Jinja's answer is the item or Undefined."""
        if obj.__class__ is dict and attribute not in DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


class PageTemplates(JinjaTemplateEngine):
    """Litestar's Jinja engine over one environment per locale, sharing one set of globals and filters: a page is
    drawn by the environment of the locale it is read in. `engine` is the default locale's."""

    def __init__(self, environments: dict[str, PageEnvironment]) -> None:
        self.by_locale = environments
        super().__init__(engine_instance=environments[i18n.LOCALES[0]])

    def get_template(self, template_name: str) -> Any:
        try:
            return self.by_locale.get(i18n.current_locale.get(), self.engine).get_template(template_name)
        except JinjaTemplateNotFound as exc:
            raise TemplateNotFoundException(template_name=template_name) from exc


def make_template_engine(settings: Settings) -> JinjaTemplateEngine:
    loader = FileSystemLoader(TEMPLATE_DIR)
    environments = {locale: PageEnvironment(
        locale,
        loader=loader,
        autoescape=select_autoescape(["html", "xml", "rss", "svg"]),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=shown_in_page_language,
        # A template is read again when its file changed only with DEBUG: checking costs a stat() of the file at
        # every render, include and import (7 against 2 µs a lookup), for files that never change in a release.
        auto_reload=settings.debug,
    ) for locale in i18n.LOCALES}
    env = environments[i18n.LOCALES[0]]
    for other in environments.values():
        other.globals, other.filters, other.tests = env.globals, env.filters, env.tests
    # For ngettext, whose form depends on the number, and for a call TranslatedLiterals left as it was.
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    hashes = static_hashes()

    def static_url(path: str) -> str:
        version = hashes.get(path)
        return f"/static/{path}?v={version}" if version else f"/static/{path}"

    @pass_context
    def has_route(context: Mapping[str, Any], name: str) -> bool:
        return context["request"].app.get_handler_index_by_name(name) is not None

    addresses = Addresses()
    resolved_nav: dict[str, list[tuple[str, Any, str]]] = {}

    @pass_context
    def bottom_nav(context: Mapping[str, Any]) -> list[dict[str, Any]]:
        request = context["request"]
        app = request.app
        account = request.scope.get("state", {}).get("account")
        role = account.role if account else "member"
        if role not in resolved_nav:
            resolved_nav[role] = [(href, label, icon) for name, label, icon in NAV_BY_ROLE.get(role, MEMBER_NAV)
                                  if (href := addresses.of(app, name)) is not None]
        path = request.url.path
        # The tab whose address is the longest start of this page's is the current one (/shop/scan → Scan).
        matches = [href for href, _label, _icon in resolved_nav[role] if path == href or (href != "/" and path.startswith(href + "/"))]
        current = max(matches, key=len, default=None)
        # The inbox's tab carries the count of unread notices, read with the login (CurrentAccount.unread).
        unread = account.unread if account else 0
        inbox = addresses.of(app, "get_inbox")
        return [
            {"href": href, "label": str(label), "icon": icon, "current": href == current,
             "count": unread if href == inbox else 0}
            for href, label, icon in resolved_nav[role]
        ]

    @pass_context
    def static_export(context: Mapping[str, Any]) -> bool:
        """This page is rendered for the static export (app/static_pages.py): no script, no form, no token."""
        return is_static_export(context["request"].scope)

    @pass_context
    def signed_in(context: Mapping[str, Any]):
        return context["request"].scope.get("state", {}).get("account")

    @pass_context
    def take_flash(context: Mapping[str, Any]) -> str | None:
        """The one-off message a redirect left behind (shown once, then gone)."""
        session = context["request"].scope.get("session")
        return session.pop("flash", None) if isinstance(session, dict) else None

    env.globals.update(
        inline_icon=inline_icons(env),
        signed_in=signed_in,
        static_export=static_export,
        take_flash=take_flash,
        branding=settings.branding,
        site_settings=settings,
        static_url=static_url,
        has_route=has_route,
        bottom_nav=bottom_nav,
        current_locale=i18n.current_locale.get,
        locale_names=i18n.LOCALE_NAMES,
    )
    env.filters.update(date=i18n.format_date, datetime=i18n.format_datetime, fiscal_year=i18n.fiscal_year_label)
    env.globals.update(date_range=i18n.date_range, datetime_range=i18n.datetime_range, list_separator=i18n.list_separator)
    engine = PageTemplates(environments)
    engine.register_template_callable("url_for", addresses)  # in place of Litestar's (above)
    return engine
