"""The fake iCount's saved cards: tokens made when a customer pays on a saving page (ticking its box) or
authorises a guarantee page, J5 pre-approvals, ``cc/bill`` of a token, ``cc/j5_status``,
``cc_storage/token_info`` and ``cc_storage/delete``.

Where iCount's real behaviour is not documented the fake picks one and says so: an unknown or deleted
token is ``cc_token_not_found`` (``bad_token`` for ``cc/bill``, as [SIANGO] saw), an account without
J5 refuses ``cc/j5_status`` with ``j5_not_supported``, a J5 lapses after ``j5_validity``, a charge
against a J5 gets a confirmation code of its own.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from tests.fakes.icount.state import CardTransaction, J5Approval, StoredToken
from tests.fakes.icount.wire import CURRENCY_IDS, Json, Refusal


def _code() -> str:
    return str(secrets.randbelow(9_000_000) + 1_000_000)


def _sum(params: Json) -> Decimal:
    try:
        total = Decimal(str(params.get("sum")))
    except (InvalidOperation, ValueError) as error:
        raise Refusal("bad_sum") from error
    if not total.is_finite() or total <= 0:
        raise Refusal("bad_sum")
    return total


class FakeCards:
    # Kept by FakeIcount.
    clock: Callable[[], datetime]
    clients: dict[str, Json]
    sales: dict[str, Json]
    transactions: dict[str, CardTransaction]
    created: Counter[str]
    paypage_id: str

    def _init_cards(self, guarantee_paypage_id: str, save_card_paypage_id: str) -> None:
        # The pay pages set up in iCount to pre-approve (J5) and keep the card, and to offer "save my card".
        self.guarantee_paypage_id = guarantee_paypage_id
        self.save_card_paypage_id = save_card_paypage_id
        self.tokens: dict[str, StoredToken] = {}
        # Whether the account has J5 pre-approvals (not every terminal does).
        self.j5_enabled = True
        self.j5_validity = timedelta(days=7)
        # cc/bill's refusals as status true, success false, error (the other shape third parties saw).
        self.bill_refusals_in_body = False

    # Test controls

    def seed_card(
        self,
        client_id: str = "",
        last4: str = "4580",
        card_type: str = "VISA",
        exp_month: int = 12,
        exp_year: int = 2028,
        j5: Decimal | None = None,
        declines: bool = False,
    ) -> str:
        """A card iCount keeps for ``client_id`` (with a J5 pre-approval of ``j5``); its token id."""
        token = self._new_token(client_id, last4=last4, card_type=card_type)
        token.exp_month, token.exp_year, token.declines = exp_month, exp_year, declines
        if j5 is not None:
            token.j5 = J5Approval(j5, "ILS", _code(), self.clock(), uid=secrets.token_hex(6))
        return token.token_id

    def bills(self) -> list[CardTransaction]:
        """The charges cc/bill made, in order."""
        return [t for t in self.transactions.values() if t.token]

    def authorise(self, sale_uniqid: str) -> tuple[str, Json]:
        """The customer authorises a guarantee sale: the card is kept and, on an account with J5, its sum
        pre-approved (nothing is charged). Returns the sale's ``ipn_url`` and the IPN fields."""
        sale = self.sales[sale_uniqid]
        assert str(sale["paypage_id"]) == self.guarantee_paypage_id, "not a guarantee page's sale"
        total = Decimal(str(sale["sum"]))
        currency = str(sale.get("currency_code") or CURRENCY_IDS.get(str(sale.get("currency_id")), "ILS"))
        client_id = self._client_of(sale)
        token = self._new_token(client_id)
        fields = {
            "cc_token_id": token.token_id,
            "sum": f"{total:.2f}",
            "currency_code": currency,
            "cc_type": token.card_type,
            "cc_last4": token.last4,
            "payment_date": self.clock().date().isoformat(),
            "customer_id": client_id,
            "utm_content": str(sale.get("utm_content", "")),
        }
        if self.j5_enabled:
            token.j5 = J5Approval(total, currency, _code(), self.clock(), uid=secrets.token_hex(6))
            fields["confirmation_code"] = token.j5.confirmation_code
        self.created["j5" if self.j5_enabled else "card_on_file"] += 1
        return str(sale["ipn_url"]), fields

    def _client_of(self, sale: Json) -> str:
        """The iCount client a pay page files the sale under: the one with the sale's phone (the fake's
        guess at how iCount matches them)."""
        phone = str(sale.get("phone", ""))
        for client in self.clients.values():
            if phone and phone in (client.get("mobile"), client.get("phone")):
                return str(client["client_id"])
        return ""

    def _new_token(self, client_id: str, last4: str = "4580", card_type: str = "VISA") -> StoredToken:
        token = StoredToken(str(secrets.randbelow(900_000) + 100_000), client_id, card_type, last4)
        self.tokens[token.token_id] = token
        self.created["token"] += 1
        return token

    def _token(self, params: Json, reason: str = "cc_token_not_found") -> StoredToken:
        token = self.tokens.get(str(params.get("cc_token_id", "")))
        if token is None or token.deleted:
            raise Refusal(reason, "no stored card with this token")
        return token

    def _live_j5(self, token: StoredToken) -> J5Approval | None:
        j5 = token.j5
        if j5 is None or self.clock() - j5.made_at > self.j5_validity or j5.used >= j5.total:
            return None
        return j5

    # Methods

    def _cc_bill(self, params: Json) -> Json:
        if "cc_number" in params:
            raise Refusal("not_modelled", "the fake charges saved cards' tokens only")
        token = self._token(params, reason="bad_token")
        total = _sum(params)
        now = self.clock()
        if token.declines or (token.exp_year, token.exp_month) < (now.year, now.month):
            reason = "cc_declined" if token.declines else "cc_expired"
            if self.bill_refusals_in_body:
                return {"success": False, "error": reason}
            raise Refusal(reason, "the card was not charged", extra={"success": False, "error": reason})
        currency = str(params.get("currency_code") or CURRENCY_IDS.get(str(params.get("currency_id")), "ILS"))
        j5 = self._live_j5(token)
        use_j5 = str(params.get("use_j5_if_available", "0")) in {"1", "true", "True"}
        if use_j5 and j5 is not None and total <= j5.total - j5.used:
            # Charged against the pre-approval; more than is left of it is charged as a usual charge.
            j5.used += total
        client = self.clients.get(token.client_id, {})
        transaction = CardTransaction(
            confirmation_code=_code(),
            cc_bill_log_id=str(secrets.randbelow(900_000) + 100_000),
            total=total,
            currency=currency,
            client_name=str(client.get("client_name", "")),
            charged_on=now.date().isoformat(),
            sale_uniqid="",
            client_id=token.client_id,
            last4=token.last4,
            card_type=token.card_type,
            charged_at=now.strftime("%Y-%m-%d %H:%M:%S"),
            token=token.token_id,
        )
        self.transactions[transaction.confirmation_code] = transaction
        self.created["bill"] += 1
        return {
            "success": True,
            "confirmation_code": transaction.confirmation_code,
            "cc_bill_log_id": transaction.cc_bill_log_id,
            "cc_type": token.card_type,
            "cc_last4": token.last4,
            "sum": f"{total:.2f}",
        }

    def _cc_j5_status(self, params: Json) -> Json:
        token = self._token(params)
        if not self.j5_enabled:
            raise Refusal("j5_not_supported", "J5 pre-approvals are not enabled on this account")
        j5 = self._live_j5(token)
        if token.j5 is None:
            return {"j5_available": False}
        asked = _sum(params) if params.get("sum") is not None else None
        remaining = Decimal(0) if j5 is None else j5.total - j5.used
        return {
            "j5_available": j5 is not None and (asked is None or asked <= remaining),
            "total_amount": f"{token.j5.total:.2f}",
            "used_amount": f"{token.j5.used:.2f}",
            "remaining_amount": f"{remaining:.2f}",
            "confirmation_code": token.j5.confirmation_code,
            "ts": int(token.j5.made_at.timestamp()),
            "uid": token.j5.uid,
            "transaction_id": token.j5.uid,
        }

    def _cc_storage_token_info(self, params: Json) -> Json:
        return self._token(params).info()

    def _cc_storage_delete(self, params: Json) -> Json:
        self._token(params).deleted = True
        self.created["token_deleted"] += 1
        return {}
