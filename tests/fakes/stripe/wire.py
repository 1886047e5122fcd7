"""The wire of the fake Stripe API: Stripe's form encoding, error envelope, ids, signatures and the
parameter rules every endpoint shares."""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import stripe

Json = dict[str, Any]
Handler = Callable[..., Json]  # (decoded params, *ids from the path) -> the response body
# A parameter schema: the keys a hash accepts, each with the schema of its value (None: anything).
Schema = dict[str, "Schema | None"]
API_VERSION: str = stripe.api_version  # "2026-10-28.endive" in stripe-python 16.1.0


def sign(payload: str, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header Stripe would send with ``payload`` at ``timestamp`` (the test's
    clock, never the wall clock): ``t=<ts>,v1=<hmac>``."""
    return str(stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp))


def decode_form(pairs: Iterable[tuple[str, str]]) -> Json:
    """Stripe's bracket encoding back into nested values: ``a[b][0][c]=v`` -> ``{"a": {"b": [{"c": "v"}]}}``.

    Values stay strings, as on the wire; endpoints convert what they expect to be integers or booleans.
    """
    root: Json = {}
    for key, value in pairs:
        head, _, rest = key.partition("[")
        path = [head, *re.findall(r"\[([^\]]*)\]", "[" + rest)] if rest else [head]
        node: Any = root
        for depth, segment in enumerate(path):
            last = depth == len(path) - 1
            # A numeric (or empty: "a[]") next segment means a list, except that metadata keys are free-form.
            child: Any = None if last else ([] if path[depth + 1].isdigit() or path[depth + 1] == "" else {})
            if isinstance(child, list) and segment == "metadata":
                child = {}
            if isinstance(node, list):
                index = len(node) if segment == "" else int(segment)
                node.extend([None] * (index + 1 - len(node)))
                if last:
                    node[index] = value
                elif node[index] is None:
                    node[index] = child
                node = node[index]
            elif isinstance(node, dict):
                if last:
                    node[segment] = value
                else:
                    node = node.setdefault(segment, child)
            else:
                raise ValueError(f"{key} mixes a value and a hash")
    return root


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(length))


class RecordedRequest(NamedTuple):
    method: str
    path: str
    params: Json
    idempotency_key: str | None


class PaymentLinkInactive(Exception):
    """``pay()`` on a link Stripe would not let a customer pay: deactivated, or its session limit reached."""


@dataclass
class Fault:
    path_prefix: str
    times: int
    status: int = 500
    seconds: float = 0.0


class FakeError(Exception):
    """An error response in Stripe's envelope; the HTTP status picks stripe-python's exception class."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str = "invalid_request_error",
        saved: bool = False,
        objects: Mapping[str, Any] | None = None,
        **extra: str | None,
    ) -> None:
        super().__init__(message)
        self.status = status
        # ``objects``: what Stripe puts in the error besides text (the PaymentIntent of a declined charge).
        self.body: Json = {"error": {"type": error_type, "message": message, **extra, **(objects or {})}}
        # Stripe keeps an answer for its idempotency key once the endpoint did its work (a card declined
        # after the PaymentIntent was made); a request refused by validation keeps nothing.
        self.saved = saved


def missing(name: str) -> FakeError:
    return FakeError(400, f"Missing required param: {name}.", code="parameter_missing", param=name)


def no_such(kind: str, object_id: str, param: str, status: int = 404) -> FakeError:
    message = f"No such {kind}: '{object_id}'"
    return FakeError(status, message, code="resource_missing", param=param)


def integer(value: Any, name: str, minimum: int = 0) -> int:
    if value is None:
        raise missing(name)
    if not isinstance(value, str) or not value.isdigit() or int(value) < minimum:
        raise FakeError(400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=name)
    return int(value)


def boolean(value: Any, name: str) -> bool:
    if value not in ("true", "false"):
        raise FakeError(400, f"Invalid boolean: {value}", code="parameter_invalid_boolean", param=name)
    return bool(value == "true")


def metadata_param(value: Any, name: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Stripe's metadata rules: merged into ``base``, "" unsets a key (or all), at most 50 keys of 40/500."""
    if value is None or value == "":
        return dict(base or {}) if value is None else {}
    if not isinstance(value, dict):
        raise FakeError(400, "Invalid hash", code="parameter_invalid_hash", param=name)
    merged = dict(base or {})
    for key, item in value.items():
        param = f"{name}[{key}]"
        if not isinstance(item, str):
            raise FakeError(400, "Metadata values must be strings", param=param)
        if len(key) > 40 or len(item) > 500:
            raise FakeError(400, "Metadata keys have at most 40 characters, values 500", param=param)
        if item:
            merged[key] = item
        else:
            merged.pop(key, None)
    if len(merged) > 50:
        raise FakeError(400, "Metadata can have at most 50 keys", param=name)
    return merged


def reject_unknown(value: Any, schema: Schema | None, name: str = "") -> None:
    if schema is None or not isinstance(value, dict | list):
        return
    items = enumerate(value) if isinstance(value, list) else value.items()
    for key, item in items:
        full = f"{name}[{key}]" if name else str(key)
        if isinstance(value, list):
            reject_unknown(item, schema, full)
        elif key not in schema:
            message = f"Received unknown parameter: {full}"
            raise FakeError(400, message, code="parameter_unknown", param=full)
        else:
            reject_unknown(item, schema[key], full)


PRODUCT_CREATE: Schema = dict.fromkeys(["id", "name", "active", "description", "metadata", "expand"])
PAYMENT_LINK_SHARED: Schema = {
    "metadata": None,
    "inactive_message": None,
    "restrictions": {"completed_sessions": {"limit": None}},
    "after_completion": {
        "type": None,
        "redirect": {"url": None},
        "hosted_confirmation": {"custom_message": None},
    },
    "expand": None,
}
PAYMENT_LINK_UPDATE: Schema = {**PAYMENT_LINK_SHARED, "active": None}
PAYMENT_LINK_CREATE: Schema = {
    **PAYMENT_LINK_SHARED,
    "line_items": {
        "price": None,
        "price_data": dict.fromkeys(["currency", "unit_amount", "product"]),
        "quantity": None,
    },
    "payment_intent_data": dict.fromkeys(["metadata", "description", "statement_descriptor_suffix"]),
    "invoice_creation": {
        "enabled": None,
        "invoice_data": dict.fromkeys(["metadata", "description", "footer"]),
    },
}
REFUND_CREATE: Schema = dict.fromkeys(["payment_intent", "amount", "reason", "metadata", "expand"])


def created_filter(params: Json, name: str = "created") -> Callable[[int], bool]:
    """The ``created`` filter of a list: an integer (equal) or a hash of gt, gte, lt, lte."""
    value = params.get(name)
    if value is None:
        return lambda _created: True
    if isinstance(value, str):
        exact = integer(value, name)
        return lambda created: created == exact
    if not isinstance(value, dict):
        raise FakeError(400, "Invalid hash", code="parameter_invalid_hash", param=name)
    reject_unknown(value, dict.fromkeys(["gt", "gte", "lt", "lte"]), name)
    bounds = {op: integer(bound, f"{name}[{op}]") for op, bound in value.items()}
    checks: dict[str, Callable[[int, int], bool]] = {
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }
    return lambda created: all(checks[op](created, bound) for op, bound in bounds.items())


def page(found: list[Json], params: Json, url: str) -> Json:
    """A list answer, newest first, with ``limit`` (default 10, at most 100) and ``starting_after``."""
    # Newest first; objects of the same second in the order they were made, the last one first.
    ordered = sorted(enumerate(found), key=lambda pair: (pair[1]["created"], pair[0]), reverse=True)
    found = [item for _index, item in ordered]
    limit = integer(params.get("limit", "10"), "limit", minimum=1)
    if limit > 100:
        raise FakeError(400, "This value must be less than or equal to 100.", param="limit")
    after = params.get("starting_after")
    if after is not None:
        ids = [item["id"] for item in found]
        if after not in ids:
            raise no_such("object", str(after), "starting_after", status=400)
        found = found[ids.index(after) + 1 :]
    return {"object": "list", "data": found[:limit], "has_more": len(found) > limit, "url": url}


_CLAUSE = re.compile(r"\s*(metadata\['([^']+)'\]|[a-z_]+):'((?:[^'\\]|\\.)*)'\s*")


def search_matcher(query: Any) -> Callable[[Json], bool]:
    """Stripe's search query language, the part the bot uses: ``field:'value'`` and
    ``metadata['key']:'value'`` clauses joined by AND (exact matches only)."""
    if not isinstance(query, str) or not query.strip():
        raise missing("query")
    clauses: list[tuple[str | None, str, str]] = []
    for part in re.split(r"\s+AND\s+", query.strip()):
        match = _CLAUSE.fullmatch(part)
        if match is None:
            raise FakeError(400, f"The query is not valid (the fake models exact clauses only): {part}")
        field, key, value = match.group(1), match.group(2), re.sub(r"\\(.)", r"\1", match.group(3))
        clauses.append((key, "metadata", value) if key is not None else (None, field, value))

    def matches(item: Json) -> bool:
        for key, field, value in clauses:
            found = (item.get("metadata") or {}).get(key) if key is not None else item.get(field)
            if str(found) != value:
                return False
        return True

    return matches


def search_result(found: list[Json], params: Json, url: str) -> Json:
    listed = page(found, {"limit": params.get("limit", "10")}, url)
    return {**listed, "object": "search_result", "next_page": None, "total_count": len(found)}
