"""Renders user-facing text from ``bot/templates/<locale>/<name>.j2`` (Jinja2, StrictUndefined)."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from jinja2 import (
    Environment,
    PackageLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    select_autoescape,
)
from jinja2.sandbox import SandboxedEnvironment

from bot.domain.errors import DomainError
from bot.domain.money import Money, shown
from bot.domain.vendor import Vendor

log = logging.getLogger(__name__)

FALLBACK_LOCALE = "en"


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("bot", "templates"),
        undefined=StrictUndefined,
        # Messages are plain text; pages (*.html) are escaped.
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        keep_trailing_newline=False,
        # Templates ship with the package: no file check on every message.
        auto_reload=False,
    )


@lru_cache(maxsize=1)
def _vendor_environment() -> SandboxedEnvironment:
    """Vendors' own wording is typed in the dashboard: rendered in Jinja's sandbox, never able to reach
    Python objects' internals."""
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


@lru_cache(maxsize=512)
def _vendor_template(text: str) -> Template:
    """A vendor's own wording, compiled once (a sweep renders it for every reminder)."""
    return _vendor_environment().from_string(text)


def _written(value: Any, locale: str) -> Any:
    """Amounts in a template's context, written the reader's way (in lists and dicts too)."""
    if isinstance(value, Money):
        return shown(value, locale)
    if isinstance(value, dict):
        return {key: _written(item, locale) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_written(item, locale) for item in value]
    return value


def _in(locale: str, context: dict[str, Any]) -> dict[str, Any]:
    return {key: _written(value, locale) for key, value in context.items()}


def render(name: str, locale: str, /, **context: Any) -> str:
    """The text of message ``name`` in ``locale``, falling back to English when not translated. Money
    in the context is written as readers of ``locale`` write it."""
    env = environment()
    try:
        template = env.get_template(f"{locale}/{name}.j2")
    except TemplateNotFound:
        template = env.get_template(f"{FALLBACK_LOCALE}/{name}.j2")
    return template.render(**_in(locale, context)).strip()


def render_for(vendor: Vendor, name: str, locale: str, /, **context: Any) -> str:
    """``name`` in the vendor's own wording when they set one for this locale (customisable messages),
    else the default. A vendor's text that does not render falls back to the default, logged."""
    kind = name.rsplit("/", 1)[-1]
    custom = vendor.message_overrides.get(kind, {}).get(locale)
    if custom:
        try:
            return _vendor_template(custom).render(**_in(locale, context)).strip()
        except TemplateError:
            log.warning("vendor %s's text for %s/%s does not render; default used", vendor.id, kind, locale)
    return render(name, locale, **context)


def render_wording(text: str, /, **context: Any) -> str:
    """A vendor's own wording rendered as it is (errors raised: the dashboard's preview explains them)."""
    return _vendor_template(text).render(**context).strip()


def check_syntax(text: str) -> bool:
    """Whether a vendor's own wording is valid Jinja2 (checked before it is stored)."""
    try:
        _vendor_environment().parse(text)
    except TemplateError:
        return False
    return True


def choose_locale(
    asked: str | None, accept_language: str | None, known: tuple[str, ...], default: str = FALLBACK_LOCALE
) -> str:
    """``asked`` if it is one of ``known``, else the browser's first language among them, else ``default``."""
    if asked in known:
        return str(asked)
    for part in (accept_language or "").split(","):
        language = part.split(";")[0].strip().lower()[:2]
        if language in known:
            return language
    return default


def render_page(name: str, locale: str, /, **context: Any) -> str:
    """An HTML page, ``bot/templates/<locale>/pages/<name>.html``, escaped."""
    env = environment()
    try:
        template = env.get_template(f"{locale}/pages/{name}.html")
    except TemplateNotFound:
        template = env.get_template(f"{FALLBACK_LOCALE}/pages/{name}.html")
    return template.render(locale=locale, **_in(locale, context))


def render_html(name: str, locale: str, /, **context: Any) -> str:
    """An HTML document other than a page (an email's body), ``bot/templates/<locale>/<name>.html``,
    escaped, falling back to English when not translated."""
    env = environment()
    try:
        template = env.get_template(f"{locale}/{name}.html")
    except TemplateNotFound:
        template = env.get_template(f"{FALLBACK_LOCALE}/{name}.html")
    return template.render(locale=locale, **_in(locale, context))


def explain(error: DomainError, locale: str) -> str:
    """What went wrong, in the reader's language."""
    return render(f"errors/{error.code}", locale, **error.params)
