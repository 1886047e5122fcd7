"""The sandbox page's words and HTML, from ``bot/templates/sandbox/`` (one word list per language)."""

from __future__ import annotations

from typing import Any

from bot.rendering import choose_locale, environment

PAGE_LOCALES = ("en", "fr", "he")
DEFAULT_PAGE_LOCALE = "en"


def words(locale: str) -> dict[str, Any]:
    """The page's words in ``locale`` (``sandbox/<locale>/words.j2`` sets ``words`` and ``demo``)."""
    module = environment().get_template(f"sandbox/{_known(locale)}/words.j2").module
    return dict(module.words)  # type: ignore[attr-defined]


def demo_words(locale: str) -> dict[str, str]:
    """The demo data's names (customer, order label) in the vendor's language."""
    module = environment().get_template(f"sandbox/{_known(locale)}/words.j2").module
    return dict(module.demo)  # type: ignore[attr-defined]


def page_locale(asked: str | None, accept_language: str | None) -> str:
    """``?lang=`` if it is one of ours, else the browser's first language we speak, else English."""
    return choose_locale(asked, accept_language, PAGE_LOCALES, DEFAULT_PAGE_LOCALE)


def render_sandbox(name: str, locale: str, /, **context: Any) -> str:
    template = environment().get_template(f"sandbox/{name}.html")
    return template.render(locale=_known(locale), words=words(locale), **context)


def _known(locale: str) -> str:
    return locale if locale in PAGE_LOCALES else DEFAULT_PAGE_LOCALE
