from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from bot.sandbox.clock import SandboxClock
from bot.sandbox.ui import page_locale, words
from tests.conftest import NOW, FrozenClock


def test_the_sandbox_clock_runs_with_real_time_until_moved_forward() -> None:
    clock = SandboxClock(lambda: NOW)
    assert clock() == NOW and clock().tzinfo is UTC
    assert clock.advance(timedelta(days=1)) == NOW + timedelta(days=1)
    clock.advance(timedelta(hours=1))
    assert clock() == NOW + timedelta(days=1, hours=1)
    assert clock.offset == timedelta(days=1, hours=1)


def test_the_sandbox_clock_follows_the_clock_it_is_built_on() -> None:
    base = FrozenClock()
    clock = SandboxClock(base)
    clock.advance(timedelta(hours=2))
    base.advance(timedelta(minutes=5))
    assert clock() == NOW + timedelta(hours=2, minutes=5)


@pytest.mark.parametrize("delta", [timedelta(0), timedelta(seconds=-1)])
def test_the_sandbox_clock_never_goes_back(delta: timedelta) -> None:
    clock = SandboxClock(lambda: NOW)
    with pytest.raises(ValueError, match="forward"):
        clock.advance(delta)
    assert clock() == NOW


def test_the_page_speaks_the_asked_language_then_the_browser_s_then_english() -> None:
    assert page_locale("fr", "en-GB,en;q=0.9") == "fr"
    assert page_locale(None, "he-IL,fr-FR;q=0.8,en;q=0.5") == "he"
    assert page_locale(None, "de-DE,fr-FR;q=0.8,en;q=0.5") == "fr"
    assert page_locale("xx", "de-DE") == "en"
    assert page_locale(None, None) == "en"


@pytest.mark.parametrize("locale", ["fr", "he"])
def test_the_page_has_the_same_words_in_each_language(locale: str) -> None:
    english, other = words("en"), words(locale)
    assert english.keys() == other.keys()
    assert english["script"].keys() == other["script"].keys()
