"""Card on file in chat, read into plain values: the guarantee, capture, release, card and phone commands
(French or English, accents optional, the order first or second), their wrong-argument codes; the taps
their buttons carry; the customer's card words; the usage and help texts that name them; and every card
reply rendered in French, English and Hebrew."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from bot.domain.deposit import AskKind
from bot.domain.money import Money
from bot.handlers import callbacks
from bot.handlers.customer_words import CustomerIntent, parse_customer_reply
from bot.handlers.parsing import Unparsed, VendorCommand, Verb, normalise, parse_vendor_command
from bot.rendering import render

CARD_VERBS: dict[Verb, list[tuple[str, str]]] = {
    Verb.GUARANTEE: [("garantie", "fr"), ("guarantee", "en")],
    Verb.CAPTURE: [("débiter", "fr"), ("debiter", "fr"), ("capture", "en")],
    Verb.RELEASE: [("libérer", "fr"), ("liberer", "fr"), ("release", "en")],
    Verb.CARD: [("carte", "fr"), ("card", "en")],
    Verb.PHONE: [("téléphone", "fr"), ("telephone", "fr"), ("phone", "en")],
}
WITH_AMOUNT = [Verb.GUARANTEE, Verb.CAPTURE]
ORDER_ONLY = [Verb.RELEASE, Verb.CARD, Verb.PHONE]


@pytest.mark.parametrize(
    ("word", "verb", "language"),
    [(word, verb, language) for verb, words in CARD_VERBS.items() for word, language in words],
)
def test_each_card_command_reads_its_order_in_either_language_with_or_without_accents(
    word: str, verb: Verb, language: str
) -> None:
    expected = VendorCommand(verb, order=12, language=language)
    assert parse_vendor_command(f"{word} 12") == expected
    assert parse_vendor_command(f"{word.upper()} #12") == expected
    assert parse_vendor_command(f"12 {word}") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("garantie 12 150", VendorCommand(Verb.GUARANTEE, order=12, amount="150")),
        ("garantie 12 30%", VendorCommand(Verb.GUARANTEE, order=12, amount="30%")),
        ("guarantee #3 45,50 €", VendorCommand(Verb.GUARANTEE, order=3, amount="45,50 €", language="en")),
        ("débiter 12 20", VendorCommand(Verb.CAPTURE, order=12, amount="20")),
        ("debiter 12", VendorCommand(Verb.CAPTURE, order=12)),
        ("capture 7 12.50", VendorCommand(Verb.CAPTURE, order=7, amount="12.50", language="en")),
        ("12 garantie", VendorCommand(Verb.GUARANTEE, order=12)),
    ],
)
def test_guarantee_and_capture_keep_the_amount_exactly_as_typed(text: str, expected: VendorCommand) -> None:
    assert parse_vendor_command(text) == expected


@pytest.mark.parametrize(
    ("text", "verb", "problem"),
    [
        ("garantie", Verb.GUARANTEE, "missing_order"),
        ("garantie 30%", Verb.GUARANTEE, "bad_order"),
        ("guarantee abc", Verb.GUARANTEE, "missing_order"),
        ("débiter", Verb.CAPTURE, "missing_order"),
        ("capture 0 20", Verb.CAPTURE, "bad_order"),
        ("libérer", Verb.RELEASE, "missing_order"),
        ("release 12 now", Verb.RELEASE, "unexpected_argument"),
        ("carte", Verb.CARD, "missing_order"),
        ("card 12 50", Verb.CARD, "unexpected_argument"),
        ("téléphone", Verb.PHONE, "missing_order"),
        ("phone 12.5", Verb.PHONE, "bad_order"),
        ("telephone 12 +33612345678", Verb.PHONE, "unexpected_argument"),
    ],
)
def test_a_card_command_with_wrong_arguments_names_the_verb_and_the_problem(
    text: str, verb: Verb, problem: str
) -> None:
    parsed = parse_vendor_command(text)
    assert isinstance(parsed, Unparsed)
    assert (parsed.verb, parsed.problem) == (verb, problem)


@pytest.mark.parametrize(("text", "verb"), [("garanti 12", Verb.GUARANTEE), ("liberr 3", Verb.RELEASE)])
def test_a_misspelt_card_command_points_to_the_nearest_verb(text: str, verb: Verb) -> None:
    parsed = parse_vendor_command(text)
    assert isinstance(parsed, Unparsed) and parsed.problem == "unknown_command" and parsed.verb is verb


@given(
    st.sampled_from([*WITH_AMOUNT, *ORDER_ONLY]),
    st.integers(min_value=1, max_value=10**6),
    st.sampled_from(["", " 20", " 30%", " 45,50 €"]),
)
def test_every_card_command_with_an_order_parses_and_keeps_its_amount(
    verb: Verb, number: int, tail: str
) -> None:
    word, language = CARD_VERBS[verb][-1]
    parsed = parse_vendor_command(f"{word} {number}{tail}")
    if verb in ORDER_ONLY and tail:
        assert isinstance(parsed, Unparsed) and parsed.problem == "unexpected_argument"
        return
    amount = tail.strip() or None
    assert parsed == VendorCommand(verb, order=number, amount=amount, language=language)


# --- taps -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "wire"),
    [
        (callbacks.ConfirmCapture(12, "20.00"), "cap:12:20.00"),
        (callbacks.CancelCapture(12), "cap:12:cancel"),
        (callbacks.ViaChoice("card", 12, "balance"), "card:12:balance"),
        (callbacks.ViaChoice("phone", 3, "guarantee"), "phone:3:guarantee"),
        (callbacks.ViaAmount("card", 12, "45.00"), "card:12:amt:45.00"),
        (callbacks.ViaOther("phone", 12), "phone:12:other"),
        (callbacks.ConfirmCardCharge(12, AskKind.DEPOSIT, "45.00"), "card:12:ok:deposit:45.00"),
        (callbacks.PhoneSave(12, AskKind.FULL, "150.00", True), "phone:12:save:full:150.00:1"),
        (callbacks.PhoneSave(12, None, "50.00", False), "phone:12:save:guarantee:50.00:0"),
    ],
)
def test_each_card_tap_decodes_to_what_its_button_encoded(data: callbacks.Callback, wire: str) -> None:
    assert callbacks.encode(data) == wire
    assert callbacks.decode(wire) == data


@pytest.mark.parametrize(
    "wire",
    ["cap:12:", "cap:12:-5", "card:12:everything", "card:12:amt:1e9", "card:12:ok:guarantee:5",
     "card:12:save:full:5:1", "phone:12:ok:full:5", "phone:12:save:full:5:2", "phone:12:save:full:5",
     "phone:0:full", "phone:12:save:refund:5:1", "card:12:other:more"],
)  # fmt: skip
def test_a_forged_card_tap_decodes_to_nothing(wire: str) -> None:
    assert callbacks.decode(wire) is None


# --- customer words -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("mes cartes", CustomerIntent.CARDS),
        ("Mes cartes ?", CustomerIntent.CARDS),
        ("ma carte", CustomerIntent.CARDS),
        ("my cards", CustomerIntent.CARDS),
        ("My saved card", CustomerIntent.CARDS),
        ("הכרטיסים שלי", CustomerIntent.CARDS),
        ("oublier carte", CustomerIntent.FORGET_CARD),
        ("oublier ma carte", CustomerIntent.FORGET_CARD),
        ("Oubliez ma carte svp", CustomerIntent.FORGET_CARD),
        ("supprimer mes cartes", CustomerIntent.FORGET_CARD),
        ("forget card", CustomerIntent.FORGET_CARD),
        ("forget my card", CustomerIntent.FORGET_CARD),
        ("שכח כרטיס", CustomerIntent.FORGET_CARD),
        ("מחק כרטיס", CustomerIntent.FORGET_CARD),
        ("pas oublier ma carte", CustomerIntent.CARDS),
        ("stop carte", CustomerIntent.STOP),
        ("je paye par carte", CustomerIntent.PAID),
        ("carte", CustomerIntent.OTHER),
        ("oublier", CustomerIntent.OTHER),
        ("je voudrais oublier ma carte bancaire", CustomerIntent.OTHER),
    ],
)
def test_customers_ask_for_their_cards_or_to_forget_them_in_three_languages(
    text: str, intent: CustomerIntent
) -> None:
    assert parse_customer_reply(text) is intent


# --- usage and help -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "verb", "shown"),
    [
        ("fr", "guarantee", "garantie 12"),
        ("fr", "capture", "débiter 12"),
        ("fr", "release", "libérer 12"),
        ("fr", "card", "carte 12"),
        ("fr", "phone", "téléphone 12"),
        ("en", "guarantee", "guarantee 12"),
        ("en", "capture", "capture 12"),
        ("en", "release", "release 12"),
        ("en", "card", "card 12"),
        ("en", "phone", "phone 12"),
        ("he", "capture", "capture 12"),
        ("he", "phone", "phone 12"),
    ],
)
def test_a_malformed_card_command_gets_its_usage_in_the_vendors_language(
    locale: str, verb: str, shown: str
) -> None:
    text = render("chat/usage", locale, verb=verb)
    assert shown in text
    assert "aide" not in text and '"help"' not in text


@pytest.mark.parametrize("locale", ["fr", "en", "he"])
def test_help_lists_the_card_commands_in_every_language(locale: str) -> None:
    text = normalise(render("chat/help", locale))
    words = ["garantie 12", "debiter 12", "liberer 12", "carte 12", "telephone 12"]
    if locale != "fr":  # Hebrew vendors type the English commands
        words = ["guarantee 12", "capture 12", "release 12", "card 12", "phone 12"]
    for word in words:
        assert f"• {word}" in text, word


# --- every card reply renders in every language -----------------------------------------------------------

EUR = Money(Decimal("50.00"), "EUR")
REPLIES: dict[str, dict[str, object]] = {
    "guarantee_sent": {
        "order": "#1",
        "number": 1,
        "customer": "+33699887766",
        "amount": EUR,
        "url": "U",
        "days": 7,
    },
    "button_capture": {"amount": EUR},
    "capture_confirm": {"order": "#1", "amount": EUR, "held": EUR, "rest": EUR, "card_on_file": True},
    "stale_capture": {"order": "#1", "number": 1},
    "capture_done": {
        "order": "#1",
        "amount": EUR,
        "released": EUR,
        "paid": EUR,
        "price": EUR,
        "balance": EUR,
        "status": "accepted",
    },
    "capture_cancelled": {"order": "#1"},
    "guarantee_released": {"order": "#1", "amount": EUR, "released": False, "status": "cancelled"},
    "card_choice": {
        "order": "#1",
        "label": "",
        "customer": "+1",
        "card": "Visa •••• 4242 (12/28)",
        "price": EUR,
        "paid": EUR,
        "requestable": EUR,
    },
    "card_confirm": {"kind": "solde", "amount": EUR, "order": "#1", "customer": "+1", "card": "Visa"},
    "stale_card": {"order": "#1", "number": 1},
    "card_charged": {
        "order": "#1",
        "kind": "acompte",
        "amount": EUR,
        "card": "Visa",
        "link": "L",
        "earlier": False,
        "paid": None,
        "balance": None,
        "status": "accepted",
        "guarantee": {"amount": EUR, "url": "G"},
        "guarantee_problem": None,
    },
    "card_guarantee": {"order": "#1", "number": 1},
    "phone_choice": {"order": "#1", "label": "Cake", "price": EUR, "paid": EUR, "requestable": EUR},
    "phone_save": {"order": "#1", "kind": "guarantee", "amount": EUR},
    "phone_link": {"order": "#1", "kind": "total", "amount": EUR, "url": "P", "until": "10:45", "save": True},
    "stale_phone": {"order": "#1", "number": 1},
    "my_cards": {"vendor": "Shop", "cards": ["Visa •••• 4242 (12/28)"]},
    "cards_forgotten": {
        "vendor": "Shop",
        "cards": ["Visa •••• 4242 (12/28)", "Mastercard •••• 3184 (11/29)"],
    },
}


@pytest.mark.parametrize("locale", ["fr", "en", "he"])
@pytest.mark.parametrize("name", sorted(REPLIES))
def test_every_card_reply_renders_in_every_language_with_its_amounts(locale: str, name: str) -> None:
    text = render(f"chat/{name}", locale, **REPLIES[name])
    assert text
    if "amount" in REPLIES[name]:
        assert "50.00" in text
    assert "4242" not in text or "•••• 4242" in text, "a card only ever by its label"


@pytest.mark.parametrize("locale", ["fr", "en", "he"])
def test_a_guarantee_shows_in_statut_with_its_state_and_dates(locale: str) -> None:
    guarantee = {"amount": EUR, "status": "held", "captured": None, "card_on_file": False,
                 "release_on": "28 Nov 09:30", "lapses_on": "28 Nov 10:30"}  # fmt: skip
    text = render(
        "chat/order_status", locale, order="#1", label="", status="accepted", customer="+1", price=EUR,
        paid=EUR, refunded=None, balance=EUR, transactions=[], guarantees=[guarantee], reminders_on=True,
    )  # fmt: skip
    assert "🔒" in text and "50.00" in text and "28 Nov 09:30" in text and "28 Nov 10:30" in text
