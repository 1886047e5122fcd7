"""Web Push at the wire, for tests: a browser's subscription keys, a local push service that records what
it is sent, RFC 8291 decryption of what it got, and the check of its VAPID header (RFC 8292)."""

from __future__ import annotations

import base64
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from multidict import CIMultiDict


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class BrowserKeys:
    """What a browser makes when it subscribes: a P-256 key pair and a random 16-byte auth secret."""

    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def public_raw(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    @property
    def p256dh(self) -> str:
        return b64url(self.public_raw)

    @property
    def auth_b64(self) -> str:
        return b64url(self.auth)


def _hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def decrypt_rfc8291(body: bytes, keys: BrowserKeys) -> bytes:
    """The payload, decrypted as RFC 8291 §3.4 and RFC 8188 say: the header (salt, record size, the
    sender's ephemeral public key), ECDH with the browser's key, HKDF with the auth secret, AES-128-GCM,
    then the padding delimiter of the last record."""
    salt, record_size, id_length = body[:16], struct.unpack("!I", body[16:20])[0], body[20]
    sender_public = body[21 : 21 + id_length]
    ciphertext = body[21 + id_length :]
    assert id_length == 65 and sender_public[0] == 4, "keyid is the sender's uncompressed P-256 key"
    assert len(ciphertext) <= record_size, "one record"
    sender = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender_public)
    shared = keys.private_key.exchange(ec.ECDH(), sender)
    ikm = _hkdf(keys.auth, shared, b"WebPush: info\x00" + keys.public_raw + sender_public, 32)
    cek = _hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
    nonce = _hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12)
    padded = AESGCM(cek).decrypt(nonce, ciphertext, None)
    unpadded = padded.rstrip(b"\x00")
    assert unpadded[-1:] == b"\x02", "the last record ends with the delimiter 0x02"
    return unpadded[:-1]


def verify_vapid(authorization: str) -> tuple[str, dict[str, Any]]:
    """``vapid t=<JWT>,k=<key>``: checks the ES256 signature of the JWT with ``k``; returns (k, claims)."""
    scheme, _, params = authorization.partition(" ")
    assert scheme == "vapid", authorization
    fields = dict(part.split("=", 1) for part in params.split(","))
    token, key = fields["t"], fields["k"]
    header_b64, claims_b64, signature_b64 = token.split(".")
    assert json.loads(unb64url(header_b64)) == {"typ": "JWT", "alg": "ES256"}
    signature = unb64url(signature_b64)
    assert len(signature) == 64
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
    der = utils.encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        public.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:  # pragma: no cover - the assertion says it
        raise AssertionError("the VAPID JWT is not signed by the key it names") from None
    return key, json.loads(unb64url(claims_b64))


@dataclass(frozen=True)
class Received:
    path: str
    headers: CIMultiDict[str]  # read as a push service does: whatever the case of the names
    body: bytes


@dataclass
class FakePushService:
    """A push service on a local port: records every POST and answers ``answers[path]`` (201 by default;
    a list is answered in turn, its last value then on)."""

    received: list[Received] = field(default_factory=list)
    answers: dict[str, int | list[int]] = field(default_factory=dict)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/push/{token}", self._receive)
        return app

    async def _receive(self, request: web.Request) -> web.Response:
        self.received.append(Received(request.path, request.headers.copy(), await request.read()))
        answer = self.answers.get(request.path, 201)
        if isinstance(answer, list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        return web.Response(status=answer, headers={"Location": f"{request.path}/message"})
