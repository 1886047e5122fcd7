from __future__ import annotations

import re
from datetime import UTC, timedelta

import pytest

from bot.domain.schedule import QuietHours
from bot.handlers.parsing import CustomerIntent, Verb, parse_customer_reply, parse_vendor_command
from bot.sandbox.clock import SandboxClock
from bot.sandbox.page import ahead_label, sweep_result
from bot.sandbox.ui import PAGE_LOCALES, page_locale, vendor_commands, words
from bot.services.reminders import NextReminder
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
    # The same blanks to fill ({when}, {n}, ...) in every language.
    for english_words, other_words in ((english, other), (english["script"], other["script"])):
        for key, text in english_words.items():
            if isinstance(text, str):
                assert blanks(other_words[key]) == blanks(text), key


def blanks(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


# What the guide tells a vendor to type, and what it means to the bot, whatever the vendor's language.
VENDOR_COMMANDS = {"pay": Verb.PAY, "balance": Verb.BALANCE, "help": Verb.HELP, "status": Verb.STATUS,
                   "cash": Verb.CASH, "new": Verb.NEW}  # fmt: skip
CUSTOMER_WORDS = {
    "customer_balance": CustomerIntent.BALANCE,
    "customer_link": CustomerIntent.LINK,
    "stop": CustomerIntent.STOP,
}


@pytest.mark.parametrize("locale", PAGE_LOCALES)
def test_what_the_guide_says_to_type_is_a_command_the_bot_reads_in_every_vendor_language(locale: str) -> None:
    typed = vendor_commands(locale)
    assert typed.keys() == vendor_commands("en").keys()
    for name, verb in VENDOR_COMMANDS.items():
        command = parse_vendor_command(typed[name])
        assert getattr(command, "verb", None) is verb, (name, typed[name], command)
    for name, intent in CUSTOMER_WORDS.items():
        assert parse_customer_reply(typed[name]) is intent, (name, typed[name])


SATURDAY_NOON = NOW.replace(hour=11, minute=0)  # 12:00 in Paris


@pytest.mark.parametrize(
    ("locale", "held", "due", "none"),
    [
        (
            "en",
            "No reminder sent: the vendor's quiet hours (21:00 to 9:00) hold the next one until "
            "Saturday 21 November, 12:00.",
            "No reminder was due yet: the next one is due on Saturday 21 November, 12:00.",
            "No reminder was due, and none is waiting: ask for a payment first.",
        ),
        (
            "fr",
            "Aucun rappel envoyé : les heures calmes du vendeur (21 h à 9 h) retiennent le prochain jusqu'à "
            "samedi 21 novembre, 12:00.",
            "Aucun rappel n'était encore dû : le prochain est prévu pour samedi 21 novembre, 12:00.",
            "Aucun rappel n'était dû, et aucun n'attend : demandez d'abord un paiement.",
        ),
        (
            "he",
            "לא נשלחה תזכורת: השעות השקטות של העסק (21:00 עד 9:00) מעכבות את הבאה עד "
            "יום שבת 21 נובמבר, 12:00.",
            "עדיין לא הגיע זמנה של אף תזכורת: הבאה מתוכננת ליום שבת 21 נובמבר, 12:00.",
            "לא הגיע זמנה של אף תזכורת, ואף תזכורת לא ממתינה: בקשו קודם תשלום.",
        ),
    ],
    ids=["en", "fr", "he"],
)
def test_a_sweep_that_sent_nothing_says_in_the_page_s_language_when_the_next_reminder_comes(
    locale: str, held: str, due: str, none: str
) -> None:
    quiet = NextReminder(SATURDAY_NOON, "Europe/Paris", QuietHours(21, 9))
    assert sweep_result(0, quiet, locale) == held
    assert sweep_result(0, NextReminder(SATURDAY_NOON, "Europe/Paris"), locale) == due
    assert sweep_result(0, None, locale) == none
    assert "2" in sweep_result(2, None, locale)


def test_the_clock_says_how_far_ahead_of_real_time_it_is_once_it_was_moved() -> None:
    assert ahead_label(timedelta(0), "en") == ""
    assert ahead_label(timedelta(days=1, hours=4), "fr") == "(1 j 4 h d'avance sur l'heure réelle)"
    assert ahead_label(timedelta(hours=1), "en") == "(0 d 1 h ahead of real time)"
