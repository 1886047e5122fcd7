"""An email outbox row as the MIME message handed to the SMTP server: text and HTML alternatives, the
vendor's name as the sender's, and a Message-ID that stays the same when the row is sent again."""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from bot.store.repositories.email_outbox import EmailRow


def sender_address(email_from: str, vendor_name: str) -> str:
    """EMAIL_FROM as it is when it names a sender (``Shop <shop@example.com>``), else under the vendor's
    name: the customer sees who they paid."""
    name, address = parseaddr(email_from)
    # Quoted and encoded as needed when the message is written (a comma or an accent in the name).
    return email_from if name else str(Address(display_name=vendor_name, addr_spec=address))


def message_id(row: EmailRow, email_from: str) -> str:
    """One per row, the same on every attempt: a copy sent again after a sender died mid-send is the
    same message to the receiving side."""
    domain = parseaddr(email_from)[1].rpartition("@")[2] or "localhost"
    return f"<{row.kind.value}.{row.transaction_id}@{domain}>"


def build_message(row: EmailRow, email_from: str, now: datetime) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender_address(email_from, str(row.payload.get("from_name") or ""))
    message["To"] = row.to_address
    message["Subject"] = row.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(row, email_from)
    # RFC 3834: sent by a program, not a person; out-of-office replies are not sent back to it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(row.text_body)
    message.add_alternative(row.html_body, subtype="html")
    # After the bodies: making the message multipart moves the Content-* headers there were into a part.
    message["Content-Language"] = row.locale
    return message
