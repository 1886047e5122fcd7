"""The sandbox page's words and HTML, from ``bot/templates/sandbox/`` (one word list per language)."""

from __future__ import annotations

from typing import Any

from jinja2.environment import TemplateModule

from bot.rendering import choose_locale, environment, render

PAGE_LOCALES = ("en", "fr", "he")
DEFAULT_PAGE_LOCALE = "en"
# The reply buttons the guide names, read from the bot's own chat templates so that they never drift.
BUTTONS = {"deposit": "chat/button_deposit", "confirm": "chat/button_confirm"}


def _module(locale: str) -> TemplateModule:
    return environment().get_template(f"sandbox/{_known(locale)}/words.j2").module


def words(locale: str) -> dict[str, Any]:
    """The page's words in ``locale``: ``words`` of ``sandbox/<locale>/words.j2``."""
    return dict(_module(locale).words)  # type: ignore[attr-defined]


def demo_words(locale: str) -> dict[str, str]:
    """The demo data's names (customer, order label) in the vendor's language."""
    return dict(_module(locale).demo)  # type: ignore[attr-defined]


def vendor_commands(locale: str) -> dict[str, str]:
    """What is typed and tapped in the phones when the bot speaks ``locale`` (the vendor's language):
    the commands, the customer's words, the checkout's buttons and the bot's reply buttons."""
    found = dict(_module(locale).commands)  # type: ignore[attr-defined]
    found.update({name: render(template, _known(locale)) for name, template in BUTTONS.items()})
    return found


def page_locale(asked: str | None, accept_language: str | None) -> str:
    """``?lang=`` if it is one of ours, else the browser's first language we speak, else English."""
    return choose_locale(asked, accept_language, PAGE_LOCALES, DEFAULT_PAGE_LOCALE)


def render_sandbox(name: str, locale: str, /, **context: Any) -> str:
    template = environment().get_template(f"sandbox/{name}.html")
    return template.render(locale=_known(locale), words=words(locale), **context)


def _known(locale: str) -> str:
    return locale if locale in PAGE_LOCALES else DEFAULT_PAGE_LOCALE
