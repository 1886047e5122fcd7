"""What every webhook body goes through before it is parsed, stored or acted on.

A body a provider signed can still be anything: nested ten thousand levels deep (the parsers, and every
walk over the result, would hit the recursion limit), not UTF-8, or holding text Postgres cannot store
(a NUL, a lone surrogate). The depth is checked on the bytes, before any parser sees them; NULs are
stripped and lone surrogates replaced, so a customer's message with one still reaches its vendor.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import orjson

# Real payloads nest less than 15 levels (Stripe's objects are the deepest); far below the recursion limit.
MAX_DEPTH = 64
# A JSON string (escapes included), or the unterminated rest of the body: possessive, so the scan is linear.
_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\Z)', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = [1 if b in b"[{" else -1 for b in range(256)]  # the depth change of each bracket
# A NUL or a surrogate written as an escape: only then can parsed text hold what Postgres refuses.
_UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
_SURROGATE = re.compile("[\ud800-\udfff]")


class BadInput(ValueError):
    """The body can never be a provider's event: answered 4xx, never stored."""


@dataclass(frozen=True, slots=True)
class Parsed:
    value: Any
    cleaned: bool  # some text was changed: store the value re-encoded, not the body as it came


def check_depth(body: bytes, limit: int = MAX_DEPTH) -> None:
    """BadInput when brackets outside strings nest deeper than ``limit``."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return  # most bodies: too few brackets to be too deep
    structure = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)  # in C: only the brackets are left
    if max(accumulate(map(_STEP.__getitem__, structure)), default=0) > limit:
        raise BadInput(f"JSON nested deeper than {limit} levels")


def utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadInput("body is not UTF-8") from error


def clean_text(text: str) -> str:
    """The text without NULs and with lone surrogates replaced: what Postgres can store."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if _SURROGATE.search(text) is not None:
        text = _SURROGATE.sub("\ufffd", text)
    return text


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value


def needs_cleaning(body: bytes) -> bool:
    """Whether the body's text may hold a NUL or a lone surrogate once parsed (a paired surrogate
    escape, or an escaped backslash before "u0000", is a harmless false alarm)."""
    return _UNSTORABLE_ESCAPE.search(body) is not None


def loads(body: bytes) -> Parsed:
    """The body's JSON, bounded in depth and cleaned; BadInput when it is not JSON in UTF-8."""
    check_depth(body)
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        # orjson refuses lone surrogates, which JSON allows: the standard parser, on strict UTF-8.
        try:
            value = json.loads(utf8(body), parse_constant=_no_constant)
        except (ValueError, RecursionError) as error:  # ValueError: JSON's, or an int of 5,000 digits
            raise BadInput("body is not JSON") from error
    if needs_cleaning(body):
        return Parsed(_clean(value), True)
    return Parsed(value, False)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: the standard parser's extension


def dumps(value: Any) -> str:
    """The JSON text of a parsed value (compact); ASCII when orjson cannot write it (an integer beyond
    64 bits, a lone surrogate)."""
    try:
        return orjson.dumps(value).decode("utf-8")
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"))
