"""The email channel's rules without a server: SMTP_URL and EMAIL_FROM, the templates, the backoff, what
an SMTP failure means, the message handed over."""

from __future__ import annotations

import uuid
from datetime import timedelta

import aiosmtplib
import pytest

from bot.channels.email.message import build_message, sender_address
from bot.channels.email.sender import Verdict, judge
from bot.config import ConfigError, SmtpSecurity, load_settings, parse_smtp_url
from bot.domain.email import MAX_ATTEMPTS, MAX_RETRY, EmailKind, EmailStatus, retry_delay
from bot.services.email_receipts import render_email
from bot.store.repositories.email_outbox import EmailRow
from tests.conftest import NOW

FACTS = {
    "customer_name": "Dana", "vendor_name": "Boulangerie <Dupont>", "order": "#12",
    "label": "Gâteau & <b>tarte</b>", "amount": "₪45.00", "paid": "45.00", "currency": "ILS",
    "balance": "₪105.00", "balance_due": True, "invoice_url": "https://app.icount.test/doc/invrec/1001?a=1&b=2",
    "invoice_number": "1001", "doctype": "invrec",
}  # fmt: skip


def test_smtp_url_reads_starttls_tls_and_a_relay_without_login() -> None:
    server = parse_smtp_url("smtp://shop%40mail.test:p%40ss%2Fw0rd@mail.example.com")
    assert (server.host, server.port, server.security) == ("mail.example.com", 587, SmtpSecurity.STARTTLS)
    assert (server.username, server.password) == ("shop@mail.test", "p@ss/w0rd")
    tls = parse_smtp_url("smtps://u:p@mail.example.com")
    assert (tls.port, tls.security) == (465, SmtpSecurity.TLS)
    relay = parse_smtp_url("smtp://localhost:25")
    assert (relay.port, relay.security, relay.username) == (25, SmtpSecurity.STARTTLS_IF_OFFERED, None)


def test_the_smtp_password_is_in_no_repr_string_or_error() -> None:
    settings = load_settings(env_file=None, smtp_url="smtp://u:hunter2secret@h:587", email_from="a@shop.test")
    server = settings.smtp_server
    assert server is not None and server.password == "hunter2secret"
    for shown in (repr(server), str(server), repr(settings), str(settings)):
        assert "hunter2secret" not in shown
    with pytest.raises(ConfigError) as error:
        load_settings(env_file=None, smtp_url="http://u:hunter2secret@h", email_from="a@shop.test")
    assert "hunter2secret" not in str(error.value) and "SMTP_URL" in str(error.value)


def test_email_is_off_without_smtp_url_and_needs_a_sender_with_it() -> None:
    assert load_settings(env_file=None).email is None
    with pytest.raises(ConfigError, match="EMAIL_FROM"):
        load_settings(env_file=None, smtp_url="smtp://h:25")
    with pytest.raises(ConfigError, match="EMAIL_FROM"):
        load_settings(env_file=None, smtp_url="smtp://h:25", email_from="Shop <not an address>")
    on = load_settings(
        env_file=None, smtp_url="smtp://h:25", email_from="a@shop.test", email_invoice_wait_seconds=60
    )
    assert on.email is not None and on.email.invoice_wait == timedelta(minutes=1)


def test_retries_wait_longer_each_time_up_to_an_hour() -> None:
    waits = [retry_delay(attempt) for attempt in range(1, MAX_ATTEMPTS + 1)]
    assert waits[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert max(waits) == MAX_RETRY and waits == sorted(waits)
    assert timedelta(hours=3) < sum(waits, timedelta()) < timedelta(hours=6)


def test_what_an_smtp_failure_means_for_the_email() -> None:
    refused = aiosmtplib.SMTPRecipientsRefused(
        [aiosmtplib.SMTPRecipientRefused(550, "No such user", "x@y.z")]
    )
    assert judge(refused).verdict is Verdict.FAILED and "550 No such user" in judge(refused).reason
    later = aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(451, "busy", "x@y.z")])
    assert judge(later).verdict is Verdict.RETRY
    assert judge(aiosmtplib.SMTPDataError(554, "spam")).verdict is Verdict.FAILED
    assert judge(aiosmtplib.SMTPDataError(452, "full")).verdict is Verdict.RETRY
    for down in (
        aiosmtplib.SMTPConnectError("refused"), aiosmtplib.SMTPServerDisconnected("gone"),
        aiosmtplib.SMTPAuthenticationError(535, "bad credentials"), ConnectionRefusedError(111, "refused"),
        aiosmtplib.SMTPSenderRefused(553, "not yours", "a@shop.test"), TimeoutError(),
    ):  # fmt: skip
        assert judge(down).verdict is Verdict.SERVER_DOWN


@pytest.mark.parametrize("kind", list(EmailKind))
@pytest.mark.parametrize("locale", ["fr", "en", "he"])
def test_every_email_renders_in_every_language_escaped_in_html(kind: EmailKind, locale: str) -> None:
    subject, text, html = render_email(kind, locale, FACTS)
    assert "\n" not in subject and "#12" in subject and "Boulangerie <Dupont>" in subject
    assert "₪45.00" in text and "https://app.icount.test/doc/invrec/1001?a=1&b=2" in text
    assert "Gâteau & <b>tarte</b>" in text, "the text body is plain text"
    assert "Gâteau &amp; &lt;b&gt;tarte&lt;/b&gt;" in html and "<b>tarte</b>" not in html
    assert 'href="https://app.icount.test/doc/invrec/1001?a=1&amp;b=2"' in html
    assert f'<html lang="{locale}" dir="{"rtl" if locale == "he" else "ltr"}">' in html


def test_a_confirmation_without_its_invoice_says_nothing_of_one() -> None:
    facts = {**FACTS, "invoice_url": None, "invoice_number": None, "doctype": None, "balance_due": False}
    _subject, text, html = render_email(EmailKind.PAYMENT_RECEIPT, "en", facts)
    assert "invoice" not in text.lower() and "href" not in html
    assert "Your order is fully paid." in text


def test_the_message_names_the_vendor_and_keeps_its_id_across_attempts() -> None:
    assert sender_address("receipts@shop.test", "Pâtisserie") == "Pâtisserie <receipts@shop.test>"
    assert sender_address("Shop <receipts@shop.test>", "Pâtisserie") == "Shop <receipts@shop.test>"
    assert sender_address("receipts@shop.test", "Dupont, fils") == '"Dupont, fils" <receipts@shop.test>'
    subject, text, html = render_email(EmailKind.PAYMENT_RECEIPT, "he", FACTS)
    row = EmailRow(
        id=1, vendor_id=uuid.uuid4(), customer_id=uuid.uuid4(), transaction_id=uuid.uuid4(),
        kind=EmailKind.PAYMENT_RECEIPT, to_address="dana@example.com", locale="he", subject=subject,
        text_body=text, html_body=html, payload={"from_name": "Pâtisserie", "facts": FACTS},
        status=EmailStatus.SENDING, attempts=1, next_attempt_at=NOW, lease_until=None, message_id=None,
        last_error=None, sent_at=None,
    )  # fmt: skip
    first = build_message(row, "receipts@shop.test", NOW)
    again = build_message(row, "receipts@shop.test", NOW + timedelta(minutes=5))
    assert first["Message-ID"] == again["Message-ID"] == f"<payment_receipt.{row.transaction_id}@shop.test>"
    assert first["Content-Language"] == "he" and first["Date"] == "Sat, 21 Nov 2026 09:30:00 +0000"
    assert [part.get_content_type() for part in first.iter_parts()] == ["text/plain", "text/html"]
