"""The shape of Meta's WhatsApp webhook bodies, as far as we use them: checked before anything is stored.

Only what our code (and pywa's parsing) reads is checked; anything else Meta adds is let through. Ids and
numbers that end up in a query are strict strings: a number there would reach Postgres as an integer
compared with a text column. A message id longer than the inbox's column is not refused here: the inbox
keeps such an event as rejected, and Meta gets its 200.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
    model_validator,
)

# Seconds since 1970, as Meta writes them (a string); bounded so a date can always be made of it.
Timestamp = (
    Annotated[str, StringConstraints(strict=True, pattern=r"^\d{1,11}$")]
    | Annotated[int, Field(strict=True, ge=0, lt=10**11)]
)


# A phone number, a business number's id, a user id: stored in columns of 64 characters at most.
Address = Annotated[str, StringConstraints(strict=True, max_length=64)]
# Types whose content pywa reads from the key of the same name.
_REPLIES = frozenset({"button_reply", "list_reply"})
_CONTENTS = frozenset({"text", "interactive", "button"})


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Metadata(_Part):
    phone_number_id: Address
    display_phone_number: Address


class Profile(_Part):
    name: StrictStr | None = None


class Contact(_Part):
    wa_id: Address | None = None
    user_id: Address | None = None
    profile: Profile | None = None


class Text(_Part):
    body: StrictStr


class Context(_Part):
    id: StrictStr | None = None
    from_: StrictStr | None = Field(None, alias="from")


class Reply(_Part):
    id: StrictStr
    title: StrictStr | None = None


class Interactive(_Part):
    type: StrictStr | None = None
    button_reply: Reply | None = None
    list_reply: Reply | None = None

    @model_validator(mode="after")
    def _reply_of_its_type(self) -> Interactive:
        if self.type in _REPLIES and getattr(self, self.type) is None:
            raise ValueError(f"{self.type} missing")
        return self


class Button(_Part):
    payload: StrictStr | None = None
    text: StrictStr | None = None


class Message(_Part):
    id: Annotated[str, StringConstraints(strict=True, min_length=1)]
    from_: Address = Field(alias="from")
    timestamp: Timestamp
    type: StrictStr
    text: Text | None = None
    context: Context | None = None
    interactive: Interactive | None = None
    button: Button | None = None

    @model_validator(mode="after")
    def _content_of_its_type(self) -> Message:
        if self.type in _CONTENTS and getattr(self, self.type) is None:
            raise ValueError(f"a {self.type} message without its {self.type}")
        return self


class StatusError(_Part):
    code: StrictInt | None = None


class Status(_Part):
    id: Annotated[str, StringConstraints(strict=True, min_length=1)]
    status: StrictStr
    recipient_id: Address | None = None
    timestamp: Timestamp | None = None
    errors: list[StatusError] | None = None


class Value(_Part):
    metadata: Metadata | None = None
    contacts: list[Contact] | None = None
    messages: list[Message] | None = None
    statuses: list[Status] | None = None

    @model_validator(mode="after")
    def _metadata_with_updates(self) -> Value:
        if (self.messages or self.statuses) and self.metadata is None:
            raise ValueError("messages or statuses without metadata")  # pywa needs the business number
        return self


class Change(_Part):
    field: StrictStr
    value: Value


class Entry(_Part):
    id: StrictStr | StrictInt | None = None
    changes: list[Change]


class Envelope(_Part):
    object: StrictStr | None = None
    entry: list[Entry]


def shape_problem(data: object) -> str | None:
    """Where ``data`` is not a WhatsApp webhook body we can use, or None. The answer names the place,
    never the value (it could be a customer's words)."""
    try:
        Envelope.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        place = ".".join(str(part) for part in first["loc"]) or "body"
        return f"unexpected {place}: {first['type']}"
    return None
