"""The server's VAPID key pair (RFC 8292): made once and kept in the database, the private key sealed
with SECRET_KEY; and the ``Authorization: vapid t=<JWT>,k=<public key>`` header each push carries."""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from bot.payments.credentials import CredentialCipher
from bot.store.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)
SEALED_FIELD = "vapid_private_key"
# RFC 8292: at most 24 hours ahead; push services refuse a token that expires later.
TOKEN_LIFETIME = timedelta(hours=12)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def public_key_of(private_key: ec.EllipticCurvePrivateKey) -> str:
    """The uncompressed P-256 point, base64url: the ``applicationServerKey`` browsers subscribe with."""
    raw = private_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(raw)


@dataclass(frozen=True, slots=True)
class VapidKeys:
    public_key: str
    private_key: ec.EllipticCurvePrivateKey

    def authorization(self, endpoint: str, subject: str, now: datetime) -> dict[str, str]:
        """The header that tells the push service who sends (``sub``), to whom (``aud``: the endpoint's
        origin) and until when (``exp``, from our clock)."""
        parts = urlsplit(endpoint)
        claims = {
            "aud": f"{parts.scheme}://{parts.netloc}",
            "exp": int((now + TOKEN_LIFETIME).timestamp()),
            "sub": subject,
        }
        return cast(dict[str, str], Vapid02(private_key=self.private_key).sign(claims))


def _sealed(cipher: CredentialCipher, private_key: ec.EllipticCurvePrivateKey) -> str:
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cipher.seal({SEALED_FIELD: pem.decode()})


def _opened(cipher: CredentialCipher, sealed: str) -> ec.EllipticCurvePrivateKey | None:
    try:
        pem = cipher.open(sealed).get(SEALED_FIELD, "")
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except ValueError:
        return None
    return key if isinstance(key, ec.EllipticCurvePrivateKey) else None


async def ensure_keys(uow: UnitOfWorkFactory, cipher: CredentialCipher, now: datetime) -> VapidKeys:
    """The stored key pair, made on first use. A pair that no longer opens (SECRET_KEY changed) is
    replaced, and the subscriptions made for it are dropped: the admins enable notifications again."""
    async with uow() as work:
        stored = await work.push.keys()
        if stored is not None:
            private_key = _opened(cipher, stored.sealed_private_key)
            if private_key is not None:
                return VapidKeys(stored.public_key, private_key)
        fresh = ec.generate_private_key(ec.SECP256R1())
        if stored is None:
            await work.push.add_keys(public_key_of(fresh), _sealed(cipher, fresh), now)
        else:
            dropped = await work.push.replace_keys(public_key_of(fresh), _sealed(cipher, fresh), now)
            log.error(
                "the web push key does not open with this SECRET_KEY: new keys, %d subscriptions dropped",
                dropped,
            )
        await work.commit()
    async with uow() as work:
        # Two processes may have made a pair at once: the one stored first is everyone's.
        kept = await work.push.keys()
    if kept is None or (private_key := _opened(cipher, kept.sealed_private_key)) is None:  # pragma: no cover
        raise RuntimeError("the web push keys could not be stored")
    return VapidKeys(kept.public_key, private_key)
