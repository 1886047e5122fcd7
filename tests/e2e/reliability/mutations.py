"""Hostile webhook bodies: real payload shapes (the sandbox's WhatsApp and Instagram builders, Stripe's
event envelope) mutated by hypothesis (types swapped, keys dropped, deep nesting, huge strings, NUL,
lone surrogates), then encoded, sometimes broken at the byte level (truncated, not UTF-8), and signed
or not."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from bot.sandbox import whatsapp_payloads as payloads
from bot.whatsapp.clients import SANDBOX_PHONE_ID
from tests.conftest import NOW

ADMIN = "33612345678"
CUSTOMER = "33699887766"
STRIPE_SECRET = "whsec_fuzz"
STRIPE_SIGNED_AT = int(NOW.timestamp())  # the app's clock starts there: inside Stripe's tolerance
LONG_ID = "wamid." + "A" * 300  # 306 characters: longer than inbound_events.event_key

# What a value may become: other JSON types, bounds of numbers, text Postgres refuses, long text.
JUNK: list[Any] = [
    5,
    -1,
    0,
    2**63,
    10**30,
    1.5e308,
    True,
    None,
    [],
    {},
    [5],
    {"x": 5},
    "",
    "\x00",
    "caf\x00e",
    "\ud800",
    "x\udfffy",
    "٣٤٥",
    "9" * 40,
    LONG_ID,
    "x" * 5000,
]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One request to send: where, the exact bytes, and how it is signed."""

    endpoint: str  # "whatsapp", "instagram", "stripe" or "icount"
    body: bytes
    signing: str  # "good", "bad" or "none"
    content_type: str = "application/json"

    @property
    def signed(self) -> bool:
        return self.signing == "good"


def whatsapp_bases() -> list[dict[str, Any]]:
    def wamid(tag: str) -> str:
        return f"wamid.fuzz{tag}{uuid.uuid4().hex[:12]}"

    return [
        payloads.text_message(SANDBOX_PHONE_ID, CUSTOMER, "Bonjour, le gâteau est prêt ?", wamid=wamid("t")),
        payloads.text_message(SANDBOX_PHONE_ID, ADMIN, "commandes", name="Vendeur", wamid=wamid("a")),
        payloads.button_reply(SANDBOX_PHONE_ID, ADMIN, "confirm:1", "Confirmer", context_wamid="wamid.x"),
        payloads.list_reply(SANDBOX_PHONE_ID, ADMIN, "order:1", "Commande 1", context_wamid="wamid.y"),
        payloads.status(SANDBOX_PHONE_ID, wamid("s"), "delivered", CUSTOMER),
        payloads.batch(
            payloads.text_message(SANDBOX_PHONE_ID, CUSTOMER, "un", wamid=wamid("b")),
            payloads.status(SANDBOX_PHONE_ID, wamid("c"), "read", CUSTOMER),
        ),
    ]


def instagram_base() -> dict[str, Any]:
    stamp = STRIPE_SIGNED_AT * 1000
    message = {"mid": "aWdfZAG1faXRlbToxOklH" + uuid.uuid4().hex, "text": "Bonjour"}
    item = {"sender": {"id": "6871234567345678"}, "recipient": {"id": "17841400000000000"}}
    return {
        "object": "instagram",
        "entry": [
            {
                "id": "17841400000000000",
                "time": stamp,
                "messaging": [{**item, "timestamp": stamp, "message": message}],
            }
        ],
    }


def stripe_bases() -> list[dict[str, Any]]:
    def event(kind: str, data_object: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": "evt_" + uuid.uuid4().hex[:24],
            "object": "event",
            "api_version": "2024-06-20",
            "created": STRIPE_SIGNED_AT,
            "data": {"object": data_object},
            "livemode": False,
            "type": kind,
        }

    metadata = {"transaction_id": str(uuid.uuid4()), "purpose": "payment"}
    session = {
        "id": "cs_test_" + uuid.uuid4().hex,
        "object": "checkout.session",
        "amount_total": 4500,
        "currency": "eur",
        "metadata": metadata,
        "payment_link": "plink_" + uuid.uuid4().hex[:20],
        "payment_intent": "pi_" + uuid.uuid4().hex[:20],
        "payment_status": "paid",
    }
    charge = {
        "id": "ch_" + uuid.uuid4().hex[:20],
        "object": "charge",
        "amount": 4500,
        "amount_refunded": 1000,
        "currency": "eur",
        "metadata": metadata,
        "payment_intent": "pi_" + uuid.uuid4().hex[:20],
    }
    return [event("checkout.session.completed", session), event("charge.refunded", charge)]


ICOUNT_FIELDS = {"confirmation_code": "0123456", "sum": "45.00", "currency_code": "ILS", "cc_last4": "4580"}


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for level in range(depth):
        value = [value] if level % 2 else {"n": value}
    return value


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> Any:
    """``base`` with one to three places changed: a value swapped for junk, a key dropped, a subtree
    nested deep, a huge string."""
    value: Any = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(value)
        path = draw(st.sampled_from(paths))
        kind = draw(st.sampled_from(["swap", "swap", "drop", "nest", "huge"]))
        if kind == "swap":
            new: Any = copy.deepcopy(draw(st.sampled_from(JUNK)))  # never one object in two places
        elif kind == "nest":
            new = _nested(draw(st.sampled_from([10, 70, 400])))
        elif kind == "huge":
            new = draw(st.sampled_from(["y" * 200_000, "\x00" * 1000, "é" * 100_000]))
        else:
            new = None
        if not path:
            value = new if kind != "drop" else {}
            continue
        parent = value
        for step in path[:-1]:
            parent = parent[step]
        if kind == "drop":
            del parent[path[-1]]
        else:
            parent[path[-1]] = new
        if kind == "nest":
            break  # nesting a nest again would outgrow the encoder's own recursion limit
    return value


def _encode(value: Any, ascii_only: bool) -> bytes:
    # Not ASCII-escaped, a lone surrogate can only be written as invalid UTF-8 (what a broken client sends).
    text = json.dumps(value, ensure_ascii=ascii_only, separators=(",", ":"))
    return text.encode("utf-8", "surrogatepass")


@st.composite
def broken_bytes(draw: st.DrawFn, body: bytes) -> bytes:
    """Mostly the body as it is; sometimes cut short, with invalid UTF-8, a raw NUL, or replaced."""
    kind = draw(st.sampled_from(["as is"] * 5 + ["truncate", "bad utf-8", "nul", "deep", "huge", "empty"]))
    cut = draw(st.integers(0, max(len(body) - 1, 0)))
    if kind == "truncate":
        return body[:cut]
    if kind == "bad utf-8":
        return body[:cut] + b"\xff\xfe\xc3" + body[cut:]
    if kind == "nul":
        return body[:cut] + b"\x00" + body[cut:]
    if kind == "deep":
        depth = draw(st.sampled_from([65, 5000, 200_000]))
        return b"[" * depth + b"]" * depth
    if kind == "huge":
        return b'{"entry":"' + b"z" * (2 * 1024 * 1024) + b'"}'  # over the 1 MiB body limit: a 413
    if kind == "empty":
        return b""
    return body


@st.composite
def attempts(draw: st.DrawFn, endpoint: str, signings: list[str]) -> Attempt:
    if endpoint == "whatsapp":
        base = draw(st.sampled_from(whatsapp_bases()))
    elif endpoint == "instagram":
        base = instagram_base()
    elif endpoint == "stripe":
        base = draw(st.sampled_from(stripe_bases()))
    else:
        base = dict(ICOUNT_FIELDS)
    value = draw(mutated(base)) if draw(st.integers(0, 9)) else base  # some stay valid
    if endpoint == "icount" and draw(st.booleans()):
        fields = value if isinstance(value, dict) else {"confirmation_code": value}
        body = "&".join(f"{k}={v}" for k, v in fields.items()).encode("utf-8", "surrogatepass")
        body = draw(broken_bytes(body))
        return Attempt(endpoint, body, "good", "application/x-www-form-urlencoded")
    body = draw(broken_bytes(_encode(value, draw(st.booleans()))))
    return Attempt(endpoint, body, draw(st.sampled_from(signings)))


def meta_signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def stripe_signature(body: bytes, secret: str, at: int = STRIPE_SIGNED_AT) -> str:
    mac = hmac.new(secret.encode(), str(at).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"
