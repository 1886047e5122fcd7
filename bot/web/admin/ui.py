"""The dashboard's HTML: pages in ``bot/templates/admin/``, their words in one list per language and
section (``admin/<locale>/<section>.j2``), laid out right to left in Hebrew."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from babel.dates import format_datetime

from bot.domain.money import Money, shown
from bot.rendering import choose_locale, environment
from bot.web.admin.session import csrf_token

LOCALES = ("fr", "en", "he")


def _known(locale: str) -> str:
    return locale if locale in LOCALES else "en"


@lru_cache(maxsize=64)
def _words(locale: str, section: str) -> dict[str, Any]:
    module = environment().get_template(f"admin/{_known(locale)}/{section}.j2").module
    return dict(module.words)  # type: ignore[attr-defined]


def words(locale: str, section: str = "common") -> dict[str, Any]:
    """The words of one section of the dashboard in ``locale``."""
    return _words(_known(locale), section)


def page_locale(request: web.Request) -> str:
    """The signed-in admin's vendor's language; before sign-in, the browser's."""
    admin = request.get("admin")
    vendor = getattr(admin, "vendor", None)
    if vendor is not None:
        return _known(str(vendor.locale))
    return choose_locale(request.query.get("lang"), request.headers.get("Accept-Language"), LOCALES)


# Babel's locales for ours: Hebrew dates in Hebrew, English in the day-month order vendors read.
_BABEL = {"fr": "fr_FR", "en": "en_GB", "he": "he_IL"}


def _money(locale: str) -> Callable[[Money | None], str]:
    def written(value: Money | None) -> str:
        return "—" if value is None else shown(value, locale)

    return written


def _when(locale: str, timezone: str) -> Callable[..., str]:
    """Times are stored in UTC and shown where the vendor is."""
    zone = ZoneInfo(timezone)

    def written(moment: datetime | None, pattern: str = "d MMM yyyy, HH:mm") -> str:
        if moment is None:
            return "—"
        return str(format_datetime(moment, pattern, tzinfo=zone, locale=_BABEL[locale]))

    return written


def render_admin(
    request: web.Request, name: str, section: str, *, status: int = 200, **context: Any
) -> web.Response:
    """``admin/<name>.html`` with the common words and the section's, the CSRF token and who is signed in."""
    locale = page_locale(request)
    admin = request.get("admin")
    vendor = getattr(admin, "vendor", None)
    timezone = "UTC" if vendor is None else str(vendor.timezone)
    template = environment().get_template(f"admin/{name}.html")
    html = template.render(
        money=_money(locale),
        when=_when(locale, timezone),
        locale=locale,
        common=words(locale, "common"),
        words=words(locale, section),
        csrf=csrf_token(request),
        admin=admin,
        path=request.path,
        **context,
    )
    return web.Response(text=html, content_type="text/html", status=status, headers=NO_STORE)


# Dashboard pages show a vendor's money and customers: never kept by a browser or a proxy.
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"}
