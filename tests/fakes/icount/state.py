"""What the fake iCount keeps: card transactions, saved cards (tokens) and their J5 pre-approvals."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from tests.fakes.icount.wire import Json


@dataclass
class CardTransaction:
    confirmation_code: str
    cc_bill_log_id: str
    total: Decimal
    currency: str
    client_name: str
    charged_on: str
    sale_uniqid: str
    refunded: Decimal = Decimal(0)
    docs: list[tuple[str, str]] = field(default_factory=list)
    client_id: str = ""
    last4: str = "4580"
    card_type: str = "VISA"
    # "YYYY-MM-DD HH:MM:SS" for cc/bill charges (the fake's guess: iCount does not document it).
    charged_at: str | None = None
    # The token charged by cc/bill (empty for a pay page's charge).
    token: str = ""

    def listed(self) -> Json:
        return {
            "cc_bill_log_id": self.cc_bill_log_id,
            "cc_cardnumber": self.last4,
            "cc_cardtype": self.card_type,
            "cc_charge_date": self.charged_at or self.charged_on,
            "cc_numofpayments": "1",
            "cctotal": f"{self.total:.2f}",
            "client_id": self.client_id,
            "client_name": self.client_name,
            "confirmation_code": self.confirmation_code,
            "currency_code": self.currency,
            "docnumber": self.docs[0][1] if self.docs else "",
            "doctype": self.docs[0][0] if self.docs else "",
            "refunded": "1" if self.refunded > 0 else "0",
        }


@dataclass
class J5Approval:
    """A J5 pre-approval on a saved card: ``total`` held, ``used`` by charges made against it."""

    total: Decimal
    currency: str
    confirmation_code: str
    made_at: datetime
    used: Decimal = Decimal(0)
    uid: str = ""


@dataclass
class StoredToken:
    """A card iCount keeps (``cc_storage``): only what may be shown of it, as the bot sees it."""

    token_id: str
    client_id: str
    card_type: str = "VISA"
    last4: str = "4580"
    exp_month: int = 12
    exp_year: int = 2028
    holder_name: str = "Dana Levi"
    deleted: bool = False
    # Its bank declines every charge.
    declines: bool = False
    j5: J5Approval | None = None

    def info(self) -> Json:
        return {
            "token_id": self.token_id,
            "cc_type": self.card_type,
            "cc_last4": self.last4,
            "cc_holder_name": self.holder_name,
            "cc_exp_month": f"{self.exp_month:02d}",
            "cc_exp_year": str(self.exp_year),
            "cc_validity": f"{self.exp_month:02d}{self.exp_year % 100:02d}",
        }
