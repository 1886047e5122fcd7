"""Reading a ``/messages`` request body into what the fake records, or into the error Graph would answer.

The limits are Graph's (text lengths, button and row counts); whatever the sandbox does not model is refused
with a Graph error rather than ignored.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from aiohttp import web

from bot.sandbox import whatsapp_payloads as payloads
from bot.sandbox.graph.records import Choice, Json, Kind

MODELLED_TYPES: tuple[Kind, ...] = ("text", "interactive", "template")
_TOP_LEVEL_KEYS = frozenset(
    {
        "messaging_product",
        "recipient_type",
        "to",
        "recipient",
        "type",
        "context",
        "biz_opaque_callback_data",
        "recipient_identity_key_hash",
        *MODELLED_TYPES,
    }
)


class GraphError(Exception):
    """A request Graph would refuse; becomes the error envelope."""

    def __init__(self, code: int, message: str, http_status: int = 400, details: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.details = details


def _invalid(details: str) -> GraphError:
    return GraphError(131009, "(#131009) Parameter value is not valid", details=details)


def _missing(name: str) -> GraphError:
    return GraphError(
        131008, "(#131008) Required parameter is missing", details=f"Parameter '{name}' is required."
    )


def _unmodelled(details: str) -> GraphError:
    return GraphError(100, "(#100) Invalid parameter", details=f"{details} (not modelled by the sandbox)")


def error_envelope(
    code: int,
    message: str,
    *,
    details: str | None = None,
    error_type: str = "OAuthException",
    transient: bool | None = None,
) -> Json:
    """Graph's ``{"error": {...}}`` body."""
    error: Json = {"message": message, "type": error_type, "code": code}
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    if transient is not None:
        error["is_transient"] = transient
    error["fbtrace_id"] = "A" + secrets.token_urlsafe(15)
    return {"error": error}


def error_response(error: GraphError) -> web.Response:
    body = error_envelope(error.code, error.message, details=error.details)
    return web.json_response(body, status=error.http_status)


def _text(value: Any, name: str, limit: int, *, required: bool = True) -> str:
    if value is None or value == "":
        if required:
            raise _missing(name)
        return ""
    if not isinstance(value, str):
        raise _invalid(f"{name} must be a string")
    if len(value) > limit:
        raise _invalid(f"{name} is longer than {limit} characters")
    return value


def _object(value: Any, name: str) -> Json:
    if value is None:
        raise _missing(name)
    if not isinstance(value, dict):
        raise _invalid(f"{name} must be an object")
    return value


def _array(value: Any, name: str, low: int, high: int) -> list[Any]:
    if value is None:
        raise _missing(name)
    if not isinstance(value, list) or not low <= len(value) <= high:
        raise _invalid(f"{name} must be an array of {low} to {high} items")
    return value


def _unique(choices: Sequence[Choice], what: str) -> None:
    ids = [c.id for c in choices]
    if len(set(ids)) != len(ids):
        raise _invalid(f"{what} ids must be unique")


@dataclass(slots=True)
class Content:
    """The kind-specific part of a send, parsed."""

    text: str
    buttons: tuple[Choice, ...] = ()
    interactive_type: str | None = None
    header: str | None = None
    footer: str | None = None
    list_button: str | None = None
    template_name: str | None = None
    template_language: str | None = None
    template_params: tuple[str, ...] = ()


def _parse_text(data: Json) -> Content:
    text = _object(data.get("text"), "text")
    if set(text) - {"body", "preview_url"}:
        raise _unmodelled(f"text fields {sorted(set(text) - {'body', 'preview_url'})}")
    return Content(text=_text(text.get("body"), "text.body", 4096))


def _parse_reply_buttons(action: Json) -> tuple[Choice, ...]:
    choices: list[Choice] = []
    for i, item in enumerate(_array(action.get("buttons"), "action.buttons", 1, 3)):
        button = _object(item, f"action.buttons[{i}]")
        if button.get("type") != "reply":
            raise _invalid(f"action.buttons[{i}].type must be 'reply'")
        reply = _object(button.get("reply"), f"action.buttons[{i}].reply")
        button_id = _text(reply.get("id"), f"action.buttons[{i}].reply.id", 256)
        choices.append(Choice(button_id, _text(reply.get("title"), f"action.buttons[{i}].reply.title", 20)))
    _unique(choices, "Button")
    if len({c.title for c in choices}) != len(choices):
        raise _invalid("Button titles must be unique")
    return tuple(choices)


def _parse_list(action: Json) -> tuple[str, tuple[Choice, ...]]:
    button = _text(action.get("button"), "action.button", 20)
    sections = _array(action.get("sections"), "action.sections", 1, 10)
    choices: list[Choice] = []
    for i, item in enumerate(sections):
        section = _object(item, f"action.sections[{i}]")
        title = _text(section.get("title"), f"action.sections[{i}].title", 24, required=len(sections) > 1)
        for j, row_item in enumerate(_array(section.get("rows"), f"action.sections[{i}].rows", 1, 10)):
            name = f"action.sections[{i}].rows[{j}]"
            row = _object(row_item, name)
            description = _text(row.get("description"), f"{name}.description", 72, required=False)
            choices.append(
                Choice(
                    _text(row.get("id"), f"{name}.id", 200),
                    _text(row.get("title"), f"{name}.title", 24),
                    description=description or None,
                    section=title or None,
                )
            )
    if len(choices) > 10:
        raise _invalid("a list has at most 10 rows in all")
    _unique(choices, "Row")
    return button, tuple(choices)


def _parse_url_button(action: Json) -> Choice:
    if action.get("name") != "cta_url":
        raise _invalid("action.name must be 'cta_url'")
    parameters = _object(action.get("parameters"), "action.parameters")
    url = _text(parameters.get("url"), "action.parameters.url", 2000)
    if not url.startswith(("https://", "http://")):
        raise _invalid("action.parameters.url must be an http(s) URL")
    return Choice(url, _text(parameters.get("display_text"), "action.parameters.display_text", 20), url=url)


def _parse_interactive(data: Json) -> Content:
    interactive = _object(data.get("interactive"), "interactive")
    kind = interactive.get("type")
    action = _object(interactive.get("action"), "interactive.action")
    body = _object(interactive.get("body"), "interactive.body")
    content = Content(text=_text(body.get("text"), "interactive.body.text", 1024), interactive_type=kind)
    if kind == "button":
        content.buttons = _parse_reply_buttons(action)
    elif kind == "list":
        content.list_button, content.buttons = _parse_list(action)
    elif kind == "cta_url":
        content.buttons = (_parse_url_button(action),)
    else:
        raise _unmodelled(f"interactive type {kind!r}")
    if (header := interactive.get("header")) is not None:
        header = _object(header, "interactive.header")
        if header.get("type") != "text":
            raise _unmodelled(f"interactive header type {header.get('type')!r}")
        content.header = _text(header.get("text"), "interactive.header.text", 60)
    if (footer := interactive.get("footer")) is not None:
        content.footer = _text(
            _object(footer, "interactive.footer").get("text"), "interactive.footer.text", 60
        )
    return content


def _parameter_text(parameter: Any, name: str) -> str:
    item = _object(parameter, name)
    kind = item.get("type")
    if kind == "text":
        return _text(item.get("text"), f"{name}.text", 32768)
    if kind == "payload":
        return _text(item.get("payload"), f"{name}.payload", 256)
    if kind in ("currency", "date_time"):
        return _text(
            _object(item.get(kind), f"{name}.{kind}").get("fallback_value"), f"{name}.fallback_value", 1024
        )
    raise _unmodelled(f"template parameter type {kind!r}")


def _parse_template(data: Json) -> Content:
    template = _object(data.get("template"), "template")
    name = _text(template.get("name"), "template.name", 512)
    language = _text(_object(template.get("language"), "template.language").get("code"), "language.code", 15)
    params: list[str] = []
    header: str | None = None
    buttons: list[Choice] = []
    for i, item in enumerate(template.get("components") or []):
        component = _object(item, f"template.components[{i}]")
        kind = str(component.get("type", "")).lower()
        values = [
            _parameter_text(p, f"template.components[{i}].parameters[{j}]")
            for j, p in enumerate(component.get("parameters") or [])
        ]
        if kind == "body":
            params.extend(values)
        elif kind == "header":
            header = " ".join(values) or None
        elif kind == "button":
            index = str(component.get("index", ""))
            sub_type = str(component.get("sub_type", "")).lower()
            buttons.extend(
                Choice(f"{sub_type}:{index}", value, url=value if sub_type == "url" else None)
                for value in values
            )
        else:
            raise _unmodelled(f"template component type {component.get('type')!r}")
    shown = f"[template {name} ({language})]" + "".join(f" {{{{{n}}}}}={p}" for n, p in enumerate(params, 1))
    return Content(
        text=shown,
        buttons=tuple(buttons),
        header=header,
        template_name=name,
        template_language=language,
        template_params=tuple(params),
    )


_PARSERS: Mapping[str, Callable[[Json], Content]] = {
    "text": _parse_text,
    "interactive": _parse_interactive,
    "template": _parse_template,
}


def parse_body(raw: str) -> Json:
    """The posted body as a JSON object, or the error Graph answers for it."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        raise _invalid("the body is not JSON") from None
    if not isinstance(data, dict):
        raise _invalid("the body is not a JSON object")
    if data.get("messaging_product") != "whatsapp":
        raise _missing("messaging_product")
    return data


def parse_read_mark(data: Json) -> tuple[str, bool]:
    """The message id of a read mark, and whether it also asks for the typing indicator."""
    if data.get("status") != "read":
        raise _invalid("status must be 'read'")
    if set(data) - {"messaging_product", "status", "message_id", "typing_indicator"}:
        raise _unmodelled("read mark fields")
    return _text(data.get("message_id"), "message_id", 256), "typing_indicator" in data


def parse_kind(data: Json) -> Kind:
    """The kind of a send, once its top-level fields are all known ones."""
    if unknown := set(data) - _TOP_LEVEL_KEYS:
        raise _unmodelled(f"fields {sorted(unknown)}")
    kind = data.get("type", "text")
    if kind not in _PARSERS:
        raise _unmodelled(f"message type {kind!r}")
    return cast(Kind, kind)


def parse_recipient(data: Json) -> tuple[str, Literal["to", "recipient"], Json]:
    """The phone digits, how they were addressed, and Graph's ``contacts`` item for the answer."""
    if data.get("recipient_type", "individual") != "individual":
        raise _unmodelled(f"recipient_type {data.get('recipient_type')!r}")
    if (to := data.get("to")) is not None:
        phone = payloads.digits(_text(to, "to", 32))
        if not 6 <= len(phone) <= 15:
            raise _invalid(f"'{to}' is not a valid phone number")
        return phone, "to", {"input": to, "wa_id": phone}
    user_id = _text(data.get("recipient"), "to", 64)
    if (phone_for := payloads.phone_for_user_id(user_id)) is None:
        raise _invalid(f"unknown recipient '{user_id}'")
    return phone_for, "recipient", {"input": user_id, "user_id": user_id}


def parse_content(kind: Kind, data: Json) -> Content:
    """The kind-specific part of a send (``kind`` from ``parse_kind``)."""
    return _PARSERS[kind](data)


def parse_reply_to(data: Json) -> Any:
    """The message a send replies to (``context.message_id``), if any."""
    context = data.get("context")
    return _object(context, "context").get("message_id") if context is not None else None
