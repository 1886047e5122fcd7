"""What every webhook body goes through: its depth bounded before parsing, strict UTF-8, text Postgres
cannot store cleaned; and which failures are rejected rather than retried, logged once per kind."""

from __future__ import annotations

import json
import logging
import time

import pytest
from sqlalchemy import exc as sa_exc

from bot.failures import OncePerKind, is_permanent
from bot.payments.stripe.event_model import shape_problem as stripe_problem
from bot.webhook_input import BadInput, check_depth, clean_text, loads
from bot.whatsapp.webhook_events import MalformedWebhook, split_webhook
from bot.whatsapp.webhook_models import shape_problem as whatsapp_problem


def test_brackets_inside_strings_do_not_count_towards_the_depth() -> None:
    check_depth(b'{"a":"' + b"[" * 500 + b'"}')
    check_depth(b"[" * 64 + b"]" * 64)
    with pytest.raises(BadInput):
        check_depth(b"[" * 65 + b"]" * 65)
    with pytest.raises(BadInput):
        check_depth(b'{"x":"\\\\"' + b"[" * 70)  # an escaped backslash ends the string


def test_the_depth_scan_of_a_pathological_body_stays_linear() -> None:
    started = time.perf_counter()
    with pytest.raises(BadInput):
        check_depth(b"[" * 65 + b'"' + b'\\"' * 400_000)
    assert time.perf_counter() - started < 1.0


def test_a_nul_is_stripped_and_a_lone_surrogate_replaced() -> None:
    parsed = loads(b'{"text":"caf\\u0000e","name":"\\ud800x","ok":"\\ud83d\\ude00"}')
    assert parsed.cleaned
    assert parsed.value == {"text": "cafe", "name": "\ufffdx", "ok": "\U0001f600"}
    assert clean_text("a\x00b\udfff") == "ab\ufffd"
    assert not loads(b'{"text":"plain"}').cleaned


@pytest.mark.parametrize(
    "body", [b"\xff{}", b"{", b"NaN", b'{"a":' + b"9" * 5000 + b"}", b"[" * 100_000 + b"]" * 100_000]
)
def test_bodies_that_are_not_json_in_utf8_or_too_deep_are_bad_input(body: bytes) -> None:
    with pytest.raises(BadInput):
        loads(body)


@pytest.mark.parametrize(
    "value",
    [
        {"messages": 5},
        {"messages": [{"id": 5, "from": "1", "timestamp": "1", "type": "text", "text": {"body": "x"}}]},
        {"metadata": {"phone_number_id": 5, "display_phone_number": "1"}, "statuses": []},
        {"messages": [{"id": "w", "from": "1", "timestamp": "1", "type": "text"}]},
    ],
)
def test_a_signed_whatsapp_envelope_of_the_wrong_shape_is_malformed_not_a_type_error(value: object) -> None:
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }
    assert whatsapp_problem(body) is not None
    with pytest.raises(MalformedWebhook):
        split_webhook(json.dumps(body).encode())


def test_a_stripe_event_of_the_wrong_shape_names_the_place_not_the_value() -> None:
    problem = stripe_problem({"id": "evt_1", "type": "x", "data": {"object": {"metadata": {"card": 4242}}}})
    assert problem is not None and "data.object.metadata.card" in problem and "4242" not in problem
    assert stripe_problem({"id": "evt_1", "type": "x", "data": {"object": {}}}) is None


def test_errors_trying_again_cannot_cure_are_permanent_and_the_database_down_is_not() -> None:
    assert is_permanent(KeyError("x")) and is_permanent(OverflowError()) and is_permanent(TypeError())
    assert is_permanent(sa_exc.DataError("insert", {}, Exception("invalid byte sequence")))
    assert not is_permanent(ConnectionRefusedError())
    assert not is_permanent(sa_exc.OperationalError("select", {}, Exception("gone")))
    wrapped = RuntimeError("handler failed")
    wrapped.__cause__ = KeyError("price")
    assert is_permanent(wrapped)


def test_a_failure_logs_its_traceback_once_per_kind(caplog: pytest.LogCaptureFixture) -> None:
    once = OncePerKind(logging.getLogger("test.once"))
    with caplog.at_level(logging.WARNING, logger="test.once"):
        for _ in range(5):
            once.failed(("whatsapp", "message"), KeyError("x"), "event failed")
        once.failed(("whatsapp", "message"), TypeError("y"), "event failed")
    with_traceback = [record for record in caplog.records if record.exc_info]
    assert len(caplog.records) == 6 and len(with_traceback) == 2
