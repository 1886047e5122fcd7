"""iCount's IPN: the address we give each sale, and what an IPN posted there says.

``ipn_url`` is ``{base}/webhooks/icount/{secret}``, the secret being the transaction id and an HMAC of it
under a key of ours: per request, unguessable, and the same on every retry. An IPN proves nothing by
itself (anyone who learnt its address could post one): the provider confirms its payment through the API
before anything is recorded. iCount repeats IPNs: the notice is keyed by request and payment (or, for a
guarantee that only kept the card, by the card's token).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from collections.abc import Mapping

from bot.payments.icount import consts
from bot.payments.port import CallbackNotice

SECRET_HEX = 32
_SECRET_SHAPE = re.compile(f"[0-9a-f]{{{32 + SECRET_HEX}}}")
MAX_FIELD = 200


class IpnAddresses:
    """The IPN address of each request, and whether an address posted to is one of ours."""

    def __init__(self, base_url: str, key: str) -> None:
        self._base = base_url.rstrip("/")
        self._key = key.encode()

    def secret(self, transaction_id: uuid.UUID) -> str:
        mac = hmac.new(self._key, b"icount-ipn:" + transaction_id.hex.encode(), hashlib.sha256)
        return transaction_id.hex + mac.hexdigest()[:SECRET_HEX]

    def url(self, transaction_id: uuid.UUID) -> str:
        return f"{self._base}/webhooks/icount/{self.secret(transaction_id)}"

    def ours(self, secret: str) -> bool:
        transaction_id = transaction_of_secret(secret)
        return transaction_id is not None and hmac.compare_digest(self.secret(transaction_id), secret)


def transaction_of_secret(secret: str) -> uuid.UUID | None:
    """The transaction an IPN secret names, if it has the secret's shape (the MAC is checked apart)."""
    # ASCII hex only: int() and UUID() also read other scripts' digits, which compare_digest refuses.
    if _SECRET_SHAPE.fullmatch(secret) is None:
        return None
    return uuid.UUID(hex=secret[:32])


def ipn_fields(query: Mapping[str, str], form: Mapping[str, str]) -> dict[str, str]:
    """IPN fields from the query string and the body (iCount's own plugin reads both)."""
    merged = {str(k): str(v) for k, v in query.items()}
    merged.update({str(k): str(v) for k, v in form.items()})
    return merged


def ipn_key(transaction_id: uuid.UUID, fields: Mapping[str, str]) -> str | None:
    """One inbox row per request and payment: iCount's repeats collide on it."""
    code = fields.get("confirmation_code")
    if code:
        return f"{transaction_id}:{code}"
    doctype, docnum = fields.get("doctype"), fields.get("docnum")
    if doctype and docnum:
        return f"{transaction_id}:{doctype}:{docnum}"
    token = fields.get("cc_token_id")
    if token:
        # A guarantee whose card is only kept (no J5, hence no confirmation code): one per card.
        return f"{transaction_id}:token:{token}"
    return None


def ipn_notice(transaction_id: uuid.UUID, received: Mapping[str, str]) -> CallbackNotice:
    """The IPN as the inbox keeps it: only the fields it needs (not the customer's postal address or
    phone; their email, for their confirmation)."""
    kept = {k: str(v)[:MAX_FIELD] for k, v in received.items() if k in consts.IPN_FIELDS}
    return CallbackNotice(transaction_id, kept, ipn_key(transaction_id, kept))
