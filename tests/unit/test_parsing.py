"""The chat parser: every documented vendor form in both languages, each wrong-argument code, customer
intents, and properties (never raises, documented forms always parse, normalise is idempotent)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, strategies as st

from bot.handlers.parsing import (
    CustomerIntent,
    Unparsed,
    VendorCommand,
    Verb,
    normalise,
    parse_customer_reply,
    parse_vendor_command,
)

# The documented keywords, as a vendor would write them (accents included), with the language each one
# stands for. Shared words ("menu", "total") and "?" count as French, the default.
KEYWORDS: dict[Verb, list[tuple[str, str]]] = {
    Verb.HELP: [("aide", "fr"), ("menu", "fr"), ("?", "fr"), ("help", "en")],
    Verb.ORDERS: [("commandes", "fr"), ("liste", "fr"), ("orders", "en"), ("list", "en")],
    Verb.NEW: [("nouvelle", "fr"), ("nouveau", "fr"), ("new", "en")],
    Verb.ACCEPT: [("accepter", "fr"), ("accepte", "fr"), ("accepté", "fr"), ("accept", "en")],
    Verb.PAY: [("payé", "fr"), ("payer", "fr"), ("paid", "en"), ("pay", "en")],
    Verb.DEPOSIT: [("acompte", "fr"), ("deposit", "en")],
    Verb.FULL: [("complet", "fr"), ("total", "fr"), ("full", "en")],
    Verb.BALANCE: [("solde", "fr"), ("balance", "en")],
    Verb.CASH: [("caisse", "fr"), ("cash", "en")],
    Verb.STATUS: [("statut", "fr"), ("état", "fr"), ("status", "en")],
    Verb.CANCEL: [("annuler", "fr"), ("cancel", "en")],
    Verb.SHIP: [("livraison", "fr"), ("livrer", "fr"), ("ship", "en")],
    Verb.DONE: [("terminé", "fr"), ("fini", "fr"), ("done", "en")],
    Verb.REMIND: [("rappel", "fr"), ("remind", "en")],
    Verb.REMINDERS: [("rappels", "fr"), ("reminders", "en")],
    Verb.CHECK: [("connexion", "fr"), ("connection", "en")],
    Verb.REFUND: [("rembourser", "fr"), ("remboursement", "fr"), ("remboursé", "fr"), ("refund", "en")],
    Verb.LANGUAGE: [("langue", "fr"), ("language", "en"), ("lang", "en")],
    Verb.GUARANTEE: [("garantie", "fr"), ("guarantee", "en")],
    Verb.CAPTURE: [("débiter", "fr"), ("capture", "en")],
    Verb.RELEASE: [("libérer", "fr"), ("release", "en")],
    Verb.CARD: [("carte", "fr"), ("card", "en")],
    Verb.PHONE: [("téléphone", "fr"), ("phone", "en")],
    Verb.REPORT: [("rapport", "fr"), ("report", "en")],
}
ORDER_ONLY = [
    Verb.ACCEPT,
    Verb.PAY,
    Verb.FULL,
    Verb.BALANCE,
    Verb.STATUS,
    Verb.CANCEL,
    Verb.SHIP,
    Verb.DONE,
    Verb.REMIND,
    Verb.RELEASE,
    Verb.CARD,
    Verb.PHONE,
]
SWITCHES = [
    ("on", True),
    ("off", False),
    ("oui", True),
    ("non", False),
    ("activer", True),
    ("désactiver", False),
    ("marche", True),
    ("arrêt", False),
]


def without_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def command(verb: Verb, language: str = "fr", **fields: object) -> VendorCommand:
    return VendorCommand(verb, language=language, **fields)  # type: ignore[arg-type]


# --- documented vendor forms -------------------------------------------------------------------------------

KEYWORD_CASES = [
    pytest.param(f"{word} 12", verb, language, id=f"{verb}-{word}")
    for verb in ORDER_ONLY
    for word, language in KEYWORDS[verb]
]


@pytest.mark.parametrize(("text", "verb", "language"), KEYWORD_CASES)
def test_every_keyword_of_a_single_order_verb_reads_the_order(text: str, verb: Verb, language: str) -> None:
    assert parse_vendor_command(text) == command(verb, language, order=12)


@pytest.mark.parametrize(("text", "verb", "language"), KEYWORD_CASES)
def test_keywords_match_without_accents_and_in_any_case(text: str, verb: Verb, language: str) -> None:
    assert parse_vendor_command(without_accents(text).upper()) == command(verb, language, order=12)
    assert parse_vendor_command(text.title()) == command(verb, language, order=12)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("aide", command(Verb.HELP)),
        ("AIDE", command(Verb.HELP)),
        ("help", command(Verb.HELP, "en")),
        ("menu", command(Verb.HELP)),
        ("?", command(Verb.HELP)),
        ("/aide", command(Verb.HELP)),
        ("!help", command(Verb.HELP, "en")),
        ("aide ?", command(Verb.HELP)),
        ("commandes", command(Verb.ORDERS)),
        ("Liste", command(Verb.ORDERS)),
        ("orders", command(Verb.ORDERS, "en")),
        ("list", command(Verb.ORDERS, "en")),
        ("commandes en cours stp", command(Verb.ORDERS)),
        ("help me please", command(Verb.HELP, "en")),
    ],
)
def test_help_and_orders_take_no_arguments_and_ignore_trailing_words(
    text: str, expected: VendorCommand
) -> None:
    assert parse_vendor_command(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "payé 12",
        "payé #12",
        "payé n°12",
        "payé N°12",
        "payé no 12",
        "payé nº 12",
        "payé # 12",
        "payé 012",
        "payé 12!",
    ],
)
def test_the_order_is_written_n_hash_n_or_numero_n(text: str) -> None:
    assert parse_vendor_command(text) == command(Verb.PAY, order=12)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("payé 12", command(Verb.PAY, order=12)),
        ("Payé 12", command(Verb.PAY, order=12)),
        ("paye 12", command(Verb.PAY, order=12)),
        ("PAYÉ #12", command(Verb.PAY, order=12)),
        ("paid #12", command(Verb.PAY, "en", order=12)),
        ("  payé \t 12  ", command(Verb.PAY, order=12)),
        ("/payé 12", command(Verb.PAY, order=12)),
        ("*payé* 12", command(Verb.PAY, order=12)),
        ("payé 999999999", command(Verb.PAY, order=999_999_999)),
        ("état 7", command(Verb.STATUS, order=7)),
        ("ETAT 7", command(Verb.STATUS, order=7)),
        ("terminé #3", command(Verb.DONE, order=3)),
        ("termine 3", command(Verb.DONE, order=3)),
    ],
)
def test_single_order_verbs_with_or_without_accent_case_or_hash(text: str, expected: VendorCommand) -> None:
    assert parse_vendor_command(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12 payé", command(Verb.PAY, order=12)),
        ("#12 paid", command(Verb.PAY, "en", order=12)),
        ("n°12 état", command(Verb.STATUS, order=12)),
        ("no 12 annuler", command(Verb.CANCEL, order=12)),
        ("12 acompte 30%", command(Verb.DEPOSIT, order=12, amount="30%")),
        ("12 rappels off", command(Verb.REMINDERS, order=12, switch=False)),
    ],
)
def test_the_order_may_come_before_the_verb(text: str, expected: VendorCommand) -> None:
    assert parse_vendor_command(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("acompte 12", command(Verb.DEPOSIT, order=12)),
        ("acompte 12 45,50 €", command(Verb.DEPOSIT, order=12, amount="45,50 €")),
        ("acompte 12 45.5", command(Verb.DEPOSIT, order=12, amount="45.5")),
        ("acompte 12 30%", command(Verb.DEPOSIT, order=12, amount="30%")),
        ("acompte 12 30 %", command(Verb.DEPOSIT, order=12, amount="30 %")),
        ("Deposit #12 EUR 45", command(Verb.DEPOSIT, "en", order=12, amount="EUR 45")),
        ("acompte 12 1\u00a0234,50\u00a0€", command(Verb.DEPOSIT, order=12, amount="1\u00a0234,50\u00a0€")),
        ("caisse #12 20", command(Verb.CASH, order=12, amount="20")),
        ("caisse 12", command(Verb.CASH, order=12)),
        ("cash 12 20 €", command(Verb.CASH, "en", order=12, amount="20 €")),
    ],
)
def test_deposit_and_cash_keep_the_amount_exactly_as_typed(text: str, expected: VendorCommand) -> None:
    assert parse_vendor_command(text) == expected


@pytest.mark.parametrize(
    ("word", "switch"), [*SWITCHES, ("ON", True), ("Désactiver", False), ("arret", False)]
)
def test_reminders_take_an_order_and_a_switch_in_either_language(word: str, switch: bool) -> None:
    assert parse_vendor_command(f"rappels 12 {word}") == command(Verb.REMINDERS, order=12, switch=switch)
    assert parse_vendor_command(f"reminders #12 {word}") == command(
        Verb.REMINDERS, "en", order=12, switch=switch
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "nouvelle +33612345678 150 Gâteau au chocolat",
            command(Verb.NEW, phone="+33612345678", amount="150", label="Gâteau au chocolat"),
        ),
        (
            "Nouveau 0033612345678 150€ Tarte AUX Fraises",
            command(Verb.NEW, phone="0033612345678", amount="150€", label="Tarte AUX Fraises"),
        ),
        (
            "new +33-6-12-34-56-78 45,50 € Birthday cake",
            command(Verb.NEW, "en", phone="+33-6-12-34-56-78", amount="45,50 €", label="Birthday cake"),
        ),
        ("NEW +972501234567 200 NIS", command(Verb.NEW, "en", phone="+972501234567", amount="200 NIS")),
        (
            "nouvelle +33612345678 150 pot de miel",
            command(Verb.NEW, phone="+33612345678", amount="150", label="pot de miel"),
        ),
        ("nouvelle +33612345678   150   ", command(Verb.NEW, phone="+33612345678", amount="150")),
    ],
)
def test_new_reads_phone_price_with_currency_and_keeps_the_label_as_typed(
    text: str, expected: VendorCommand
) -> None:
    assert parse_vendor_command(text) == expected


# --- wrong arguments: each verb says which verb and what went wrong --------------------------------------


@pytest.mark.parametrize(
    ("text", "verb", "problem"),
    [
        ("12 aide", Verb.HELP, "unexpected_argument"),
        ("12 commandes", Verb.ORDERS, "unexpected_argument"),
        ("nouvelle", Verb.NEW, "missing_phone"),
        ("nouvelle 150 Gâteau", Verb.NEW, "missing_phone"),
        ("new +33612345678", Verb.NEW, "missing_price"),
        ("new +33612345678 2x", Verb.NEW, "missing_product"),
        ("accepter", Verb.ACCEPT, "missing_order"),
        ("accept 12 now", Verb.ACCEPT, "unexpected_argument"),
        ("payé", Verb.PAY, "missing_order"),
        ("payé abc", Verb.PAY, "missing_order"),
        ("payé 0", Verb.PAY, "bad_order"),
        ("payé #000", Verb.PAY, "bad_order"),
        ("paid 1234567890", Verb.PAY, "bad_order"),
        ("payé -3", Verb.PAY, "bad_order"),
        ("payé 12.5", Verb.PAY, "bad_order"),
        ("payé 12 30", Verb.PAY, "unexpected_argument"),
        ("acompte", Verb.DEPOSIT, "missing_order"),
        ("acompte 30%", Verb.DEPOSIT, "bad_order"),
        ("deposit 0 30%", Verb.DEPOSIT, "bad_order"),
        ("complet 12 30", Verb.FULL, "unexpected_argument"),
        ("solde", Verb.BALANCE, "missing_order"),
        ("caisse x", Verb.CASH, "missing_order"),
        ("cash #0 20", Verb.CASH, "bad_order"),
        ("état 12 13", Verb.STATUS, "unexpected_argument"),
        ("annuler #", Verb.CANCEL, "missing_order"),
        ("ship 12 tomorrow", Verb.SHIP, "unexpected_argument"),
        ("terminé 00", Verb.DONE, "bad_order"),
        ("rappel 12 demain", Verb.REMIND, "unexpected_argument"),
        ("rappels 12", Verb.REMINDERS, "bad_switch"),
        ("reminders 12 maybe", Verb.REMINDERS, "bad_switch"),
        ("rappels 12 off now", Verb.REMINDERS, "unexpected_argument"),
        ("rappels off", Verb.REMINDERS, "missing_order"),
        ("rembourser", Verb.REFUND, "missing_order"),
        ("refund x 20", Verb.REFUND, "missing_order"),
        ("garantie", Verb.GUARANTEE, "missing_order"),
        ("guarantee 30%", Verb.GUARANTEE, "bad_order"),
        ("débiter", Verb.CAPTURE, "missing_order"),
        ("libérer 12 20", Verb.RELEASE, "unexpected_argument"),
        ("carte", Verb.CARD, "missing_order"),
        ("phone 12 now", Verb.PHONE, "unexpected_argument"),
        ("langue he", Verb.LANGUAGE, "missing_phone"),
        ("language +972501234567", Verb.LANGUAGE, "missing_locale"),
        ("langue +972501234567 he now", Verb.LANGUAGE, "unexpected_argument"),
        ("12 langue +972501234567 he", Verb.LANGUAGE, "unexpected_argument"),
        ("rapport année", Verb.REPORT, "bad_period"),
        ("report month now", Verb.REPORT, "unexpected_argument"),
        ("12 rapport", Verb.REPORT, "unexpected_argument"),
    ],
)
def test_a_known_verb_with_wrong_arguments_names_the_verb_and_the_problem(
    text: str, verb: Verb, problem: str
) -> None:
    parsed = parse_vendor_command(text)
    assert isinstance(parsed, Unparsed)
    assert (parsed.verb, parsed.problem, parsed.text) == (verb, problem, text)


def test_every_verb_has_a_wrong_argument_case_above() -> None:
    covered = {
        Verb.HELP,
        Verb.ORDERS,
        Verb.CHECK,
        Verb.NEW,
        Verb.DEPOSIT,
        Verb.CASH,
        Verb.REMINDERS,
        Verb.REFUND,
        Verb.LANGUAGE,
        Verb.GUARANTEE,
        Verb.CAPTURE,
        Verb.REPORT,
        *ORDER_ONLY,
    }
    assert covered == set(Verb)


def test_unparsed_keeps_the_language_of_the_keyword() -> None:
    assert parse_vendor_command("paid").language == "en"
    assert parse_vendor_command("payé").language == "fr"


# --- unknown commands and the nearest verb ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "verb", "language"),
    [
        ("acompt 12 45", Verb.DEPOSIT, "fr"),
        ("hlep", Verb.HELP, "en"),
        ("commande", Verb.ORDERS, "fr"),
        ("anuler 3", Verb.CANCEL, "fr"),
        ("remindres 3 on", Verb.REMINDERS, "en"),
        ("12 pyé", Verb.PAY, "fr"),
    ],
)
def test_a_misspelt_verb_is_unknown_but_points_to_the_nearest_verb(
    text: str, verb: Verb, language: str
) -> None:
    assert parse_vendor_command(text) == Unparsed(text, verb, "unknown_command", language)


@pytest.mark.parametrize(
    "text", ["", "   ", "bonjour", "j'ai payé", "j’ai payé", "45 €", "12", "30 %", "👍", "merci beaucoup"]
)
def test_text_far_from_any_verb_is_unknown_without_a_verb(text: str) -> None:
    assert parse_vendor_command(text) == Unparsed(text, None, "unknown_command")


# --- customer replies --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("lien", CustomerIntent.LINK),
        ("Lien ?", CustomerIntent.LINK),
        ("liens", CustomerIntent.LINK),
        ("le lien", CustomerIntent.LINK),
        ("Le lien svp 🙏", CustomerIntent.LINK),
        ("lien de paiement", CustomerIntent.LINK),
        ("link", CustomerIntent.LINK),
        ("Payment link please", CustomerIntent.LINK),
        ("pas reçu le lien", CustomerIntent.LINK),
        ("solde", CustomerIntent.BALANCE),
        ("balance", CustomerIntent.BALANCE),
        ("reste", CustomerIntent.BALANCE),
        ("reste à payer ?", CustomerIntent.BALANCE),
        ("Combien ?", CustomerIntent.BALANCE),
        ("how much", CustomerIntent.BALANCE),
        ("remaining", CustomerIntent.BALANCE),
        ("payé", CustomerIntent.PAID),
        ("PAYE", CustomerIntent.PAID),
        ("j'ai payé", CustomerIntent.PAID),
        ("J’ai payé !", CustomerIntent.PAID),
        ("jai paye", CustomerIntent.PAID),
        ("déjà payé", CustomerIntent.PAID),
        ("deja paye", CustomerIntent.PAID),
        ("paid", CustomerIntent.PAID),
        ("I paid", CustomerIntent.PAID),
        ("i have paid", CustomerIntent.PAID),
        ("j'ai payé le solde", CustomerIntent.PAID),
        ("stop", CustomerIntent.STOP),
        ("STOP", CustomerIntent.STOP),
        ("arrêt", CustomerIntent.STOP),
        ("arret", CustomerIntent.STOP),
        ("stopper", CustomerIntent.STOP),
        ("unsubscribe", CustomerIntent.STOP),
        ("désabonner", CustomerIntent.STOP),
        ("me désabonner", CustomerIntent.STOP),
        ("stop rappels", CustomerIntent.STOP),
        ("Non, stop", CustomerIntent.STOP),
        ("start", CustomerIntent.START),
        ("reprendre", CustomerIntent.START),
        ("subscribe", CustomerIntent.START),
        ("abonner", CustomerIntent.START),
        ("m'abonner", CustomerIntent.START),
    ],
)
def test_short_customer_replies_have_an_intent(text: str, intent: CustomerIntent) -> None:
    assert parse_customer_reply(text) is intent


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "👍",
        "?",
        "done",
        "ok",
        "merci",
        "payer",
        "Bonjour, je voudrais un gâteau pour samedi",
        "le lien ne marche pas sur mon téléphone",
        "je voudrais le lien pour demain",
        "pas encore payé",
        "je n'ai pas payé",
        "not paid yet",
    ],
)
def test_other_customer_messages_go_to_the_vendor(text: str) -> None:
    assert parse_customer_reply(text) is CustomerIntent.OTHER


def test_a_keyword_counts_in_four_words_but_not_in_five() -> None:
    assert parse_customer_reply("envoyez moi le lien") is CustomerIntent.LINK
    assert parse_customer_reply("envoyez moi le lien svp") is CustomerIntent.OTHER


# --- normalise ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("  Payé   ÉTAT\t\n12 ", "paye etat 12"),
        ("J’ai «payé»", 'j\'ai "paye"'),
        ("ＰＡＹÉ　１２", "paye 12"),
        ("Straße", "strasse"),
        ("", ""),
    ],
)
def test_normalise_folds_case_accents_quotes_and_spacing(text: str, folded: str) -> None:
    assert normalise(text) == folded


# --- properties --------------------------------------------------------------------------------------------

ALL_WORDS = [word for words in KEYWORDS.values() for word, _ in words]
SPACE = st.text(alphabet=" \t\u00a0", min_size=1, max_size=3)
messy_text = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp", "Mn"]), max_size=50),
    st.lists(
        st.one_of(
            st.sampled_from(ALL_WORDS),
            st.sampled_from(["#", "n°", "no", "€", "%", "+33612345678", "0", "-1", "?", "/", "*"]),
            st.text(alphabet="0123456789", min_size=1, max_size=6000),
            st.text(max_size=10),
        ),
        max_size=8,
    ).map(" ".join),
)


@given(messy_text)
def test_the_vendor_parser_never_raises_and_keeps_unparsed_text(text: str) -> None:
    parsed = parse_vendor_command(text)
    assert isinstance(parsed, VendorCommand | Unparsed)
    if isinstance(parsed, Unparsed):
        assert parsed.text == text
    else:
        assert parsed.order is None or 0 < parsed.order < 10**9


@given(messy_text)
def test_the_customer_parser_never_raises(text: str) -> None:
    assert isinstance(parse_customer_reply(text), CustomerIntent)


@given(messy_text)
def test_normalise_is_idempotent(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once


@st.composite
def keyword(draw: st.DrawFn, verb: Verb) -> tuple[str, str]:
    """A keyword of ``verb`` as a vendor might type it: any letters upper-cased, accent kept or dropped."""
    word, language = draw(st.sampled_from(KEYWORDS[verb]))
    if draw(st.booleans()):
        word = without_accents(word)
    return "".join(c.upper() if draw(st.booleans()) else c for c in word), language


order_text = st.tuples(
    st.integers(min_value=1, max_value=10**6),
    st.sampled_from(["{}", "#{}", "n°{}", "N°{}", "no {}", "# {}"]),
).map(lambda pair: (pair[0], pair[1].format(pair[0])))
amount_text = st.one_of(
    st.integers(min_value=1, max_value=10**6).map(str),
    st.tuples(
        st.integers(min_value=0, max_value=99_999),
        st.sampled_from([",", "."]),
        st.integers(min_value=0, max_value=99),
    ).map(lambda t: f"{t[0]}{t[1]}{t[2]:02d}"),
).flatmap(lambda number: st.sampled_from([number, f"{number} €", f"{number}€", f"{number} EUR"]))
percent_text = st.integers(min_value=1, max_value=100).flatmap(lambda p: st.sampled_from([f"{p}%", f"{p} %"]))


@st.composite
def documented_command(draw: st.DrawFn) -> tuple[str, VendorCommand]:
    """Any documented command, spaced out at random, with the command it must read as."""
    verb = draw(st.sampled_from(list(Verb)))
    word, language = draw(keyword(verb))
    parts = [word]
    fields: dict[str, object] = {}
    if verb in {Verb.HELP, Verb.ORDERS, Verb.CHECK}:
        pass
    elif verb is Verb.REPORT:
        word_span = draw(st.sampled_from([None, ("aujourd'hui", "today"), ("Aujourd’hui", "today"),
                                          ("semaine", "week"), ("mois", "month"), ("today", "today"),
                                          ("week", "week"), ("MONTH", "month")]))  # fmt: skip
        if word_span is not None:
            parts.append(word_span[0])
        fields = {"span": "today" if word_span is None else word_span[1]}
    elif verb is Verb.LANGUAGE:
        phone = draw(st.sampled_from(["+33612345678", "0033612345678", "+972501234567"]))
        locale = draw(st.sampled_from(["fr", "en", "he"]))
        parts += [phone, locale]
        fields = {"phone": phone, "locale": locale}
    elif verb is Verb.NEW:
        phone = draw(st.sampled_from(["+33612345678", "0033612345678", "+33-6-12-34-56-78", "+972501234567"]))
        price = draw(amount_text)
        label = draw(st.sampled_from(["", "Gâteau au chocolat", "Tarte AUX fraises x2", "Cake"]))
        parts += [phone, price, *([label] if label else [])]
        fields = {"phone": phone, "amount": price, "label": label}
    else:
        number, written = draw(order_text)
        parts.append(written)
        fields["order"] = number
        if verb in {Verb.DEPOSIT, Verb.CASH, Verb.REFUND, Verb.GUARANTEE, Verb.CAPTURE}:
            amount = draw(st.one_of(st.none(), amount_text, percent_text))
            if amount is not None:
                parts.append(amount)
            fields["amount"] = amount
        elif verb is Verb.REMINDERS:
            switch_word, switch = draw(st.sampled_from(SWITCHES))
            parts.append(switch_word)
            fields["switch"] = switch
    text = draw(st.sampled_from(["", " "])) + "".join(p + draw(SPACE) for p in parts[:-1]) + parts[-1]
    return text + draw(st.sampled_from(["", " ", "\n"])), command(verb, language, **fields)


@given(documented_command())
def test_every_documented_form_parses_to_its_command(case: tuple[str, VendorCommand]) -> None:
    text, expected = case
    assert parse_vendor_command(text) == expected


@given(st.sampled_from(ORDER_ONLY).flatmap(lambda verb: st.tuples(st.just(verb), keyword(verb), order_text)))
def test_single_order_verbs_read_the_same_with_the_order_first(
    case: tuple[Verb, tuple[str, str], tuple[int, str]],
) -> None:
    verb, (word, language), (number, written) = case
    expected = command(verb, language, order=number)
    assert parse_vendor_command(f"{word} {written}") == expected
    assert parse_vendor_command(f"{written} {word}") == expected
