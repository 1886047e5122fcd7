"""Provider credentials at rest: a JSON object sealed with a key derived from ``SECRET_KEY``."""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken


class CredentialCipher:
    def __init__(self, secret_key: str) -> None:
        digest = hashlib.sha256(b"whatsapp-payment-bot/credentials\0" + secret_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def seal(self, credentials: dict[str, str]) -> str:
        return self._fernet.encrypt(json.dumps(credentials, sort_keys=True).encode()).decode()

    def open(self, sealed: str | None) -> dict[str, str]:
        if not sealed:
            return {}
        try:
            data = json.loads(self._fernet.decrypt(sealed.encode()))
        except InvalidToken as error:
            raise ValueError("stored credentials do not open with this SECRET_KEY") from error
        return {str(key): str(value) for key, value in data.items()}
