"""Settings from the environment and ``.env``. The only module that reads the environment.

A missing or invalid setting stops start-up with one line that names it (``ConfigError``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from email.utils import parseaddr
from enum import StrEnum
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.domain.customer import checked_email
from bot.domain.email import EmailSettings
from bot.domain.errors import DomainError
from bot.domain.money import Percent, check_currency
from bot.domain.phone import normalise_phone
from bot.domain.schedule import QuietHours, parse_offsets, parse_quiet_hours
from bot.domain.vendor import ProviderName, check_locale, check_timezone

DEFAULT_DATABASE_URL = "sqlite:///./bot.db"
DEFAULT_PORT = 8080
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(Exception):
    """One line naming the setting that stops the bot from starting."""


class LogFormat(StrEnum):
    """How log lines are written: plain text, or one JSON object per line for log collectors."""

    TEXT = "text"
    JSON = "json"


class SmtpSecurity(StrEnum):
    # smtps://: TLS from the first byte (port 465).
    TLS = "tls"
    # smtp:// with a user: STARTTLS, required (a password never crosses the network in clear).
    STARTTLS = "starttls"
    # smtp:// without a user (a relay on the same host or network): STARTTLS when the server offers it.
    STARTTLS_IF_OFFERED = "starttls_if_offered"


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """SMTP_URL, read: where customers' emails are handed over. The password is never in a repr or log."""

    host: str
    port: int
    security: SmtpSecurity
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpServer:
    """``smtp://user:pass@host:587`` (STARTTLS) or ``smtps://user:pass@host:465`` (TLS); the user and the
    password percent-encoded. The error never repeats the URL (it holds the password)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ValueError("is not a URL such as smtp://user:password@host:587") from None
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("must be smtp://user:password@host:587 or smtps://user:password@host:465")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if parts.scheme == "smtps":
        security = SmtpSecurity.TLS
    else:
        security = SmtpSecurity.STARTTLS if username else SmtpSecurity.STARTTLS_IF_OFFERED
    default_port = 465 if parts.scheme == "smtps" else 587
    return SmtpServer(parts.hostname, port or default_port, security, username, password)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True, env_ignore_empty=True
    )

    database_url: str = DEFAULT_DATABASE_URL
    public_base_url: str | None = None
    # Where `bot serve` listens; without PUBLIC_BASE_URL, the links every `bot` command makes point here.
    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    secret_key: SecretStr | None = None
    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.TEXT

    whatsapp_phone_id: str | None = None
    whatsapp_token: SecretStr | None = None
    whatsapp_app_secret: SecretStr | None = None
    whatsapp_verify_token: SecretStr | None = None
    whatsapp_graph_url: str = "https://graph.facebook.com"
    whatsapp_messages_per_second: float = Field(default=80.0, gt=0, le=1000)
    # The WhatsApp Business Account that owns the number(s): `bot doctor` checks its message templates.
    whatsapp_business_account_id: str | None = None

    # Instagram Direct: the professional account's id and token (never logged); its webhooks are signed
    # with the Meta app's secret, WhatsApp's unless set apart. Without a token: off, or the sandbox's.
    instagram_account_id: str | None = None
    instagram_token: SecretStr | None = None
    instagram_app_secret: SecretStr | None = None
    instagram_verify_token: SecretStr | None = None
    instagram_graph_url: str = "https://graph.facebook.com/v26.0"

    payment_provider: ProviderName | None = None
    stripe_api_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_base: str | None = None
    icount_api_token: SecretStr | None = None
    icount_paypage_id: str | None = None
    icount_api_base: str = "https://api.icount.co.il/api/v3.php"

    deposit_default_percent: Decimal = Field(default=Decimal(30))
    reminder_schedule: str = "1d,3d,7d"
    reminder_quiet_hours: str = "21-9"
    reminder_sweep_seconds: float = Field(default=60.0, gt=0, le=3600)
    # How often the recovery jobs run (requests left without a link, events and refunds left unfinished,
    # messages left sending), and the provider jobs (held orders, invoices, the iCount IPN backlog,
    # card guarantees).
    recovery_seconds: float = Field(default=30.0, gt=0, le=3600)
    provider_jobs_seconds: float = Field(default=60.0, gt=0, le=3600)
    # How often products waiting for their provider (changed, or failed and due again) are synced.
    product_sync_seconds: float = Field(default=60.0, gt=0, le=3600)
    # How often customers waiting for the provider's clients (changed, new, or failed and due again) are
    # synced, a few per pass (iCount's 30 calls a minute are shared with payments).
    client_sync_seconds: float = Field(default=60.0, gt=0, le=3600)

    # Customers' emails (payment confirmation, invoice link): off while SMTP_URL is unset.
    smtp_url: SecretStr | None = None
    email_from: str | None = None
    # How long a payment's confirmation waits for its invoice (iCount, Stripe), to send one email with both.
    email_invoice_wait_seconds: float = Field(default=300.0, ge=0, le=86400)
    # How often the email sender looks for emails to send.
    email_outbox_seconds: float = Field(default=10.0, gt=0, le=3600)

    # Web Push to the vendor's dashboard (on with SECRET_KEY, which seals the VAPID private key): the
    # contact push services see (mailto: or https:), the push services subscriptions may point at (hosts or
    # parent domains; nothing else is posted to), how long a push service keeps an undelivered one, and
    # how often the push sender looks for notifications to send.
    web_push_subject: str | None = None
    web_push_hosts: str = "fcm.googleapis.com,push.services.mozilla.com,notify.windows.com,push.apple.com"
    web_push_ttl_seconds: int = Field(default=43200, ge=0, le=2419200)
    web_push_poll_seconds: float = Field(default=5.0, gt=0, le=3600)

    vendor_name: str = "Demo vendor"
    vendor_admin_phones: str = ""
    vendor_currency: str = "EUR"
    vendor_locale: str = "fr"
    vendor_timezone: str = "Europe/Paris"

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgres")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value

    @field_validator("web_push_subject")
    @classmethod
    def _push_subject(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("mailto:", "https://")):
            raise ValueError("must be a mailto: address or an https:// URL")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return level

    @field_validator("log_format", mode="before")
    @classmethod
    def _log_format(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("deposit_default_percent")
    @classmethod
    def _percent(cls, value: Decimal) -> Decimal:
        _domain_check(lambda: Percent(value), f"{value} is not a percentage between 0 and 100")
        return value

    @field_validator("reminder_schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        _domain_check(lambda: parse_offsets(value), f"{value!r} is not a list of offsets such as 1d,3d,7d")
        return value

    @field_validator("reminder_quiet_hours")
    @classmethod
    def _quiet(cls, value: str) -> str:
        _domain_check(lambda: parse_quiet_hours(value), f"{value!r} is not an hour range such as 21-9")
        return value

    @field_validator("vendor_currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return str(_domain_check(lambda: check_currency(value), f"{value!r} is not a supported currency"))

    @field_validator("vendor_locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        return str(_domain_check(lambda: check_locale(value), f"{value!r} is not one of fr, en"))

    @field_validator("vendor_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return str(_domain_check(lambda: check_timezone(value), f"{value!r} is not a known time zone"))

    @field_validator("vendor_admin_phones")
    @classmethod
    def _phones(cls, value: str) -> str:
        normalised = []
        for phone in (part.strip() for part in value.split(",")):
            if phone:
                problem = f"{phone!r} is not an international number such as +33612345678"
                normalised.append(str(_domain_check(lambda p=phone: normalise_phone(p), problem)))
        return ",".join(normalised)

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_smtp_url(value.get_secret_value())
        return value

    @field_validator("email_from")
    @classmethod
    def _email_from(cls, value: str | None) -> str | None:
        if value is not None:
            address, problem = parseaddr(value)[1], "is not an address such as Shop <shop@example.com>"
            if not address:
                raise ValueError(problem)
            _domain_check(lambda: checked_email(address), problem)
        return value

    @model_validator(mode="after")
    def _provider_credentials(self) -> Settings:
        needed: dict[ProviderName, tuple[str, ...]] = {
            ProviderName.STRIPE: ("stripe_api_key", "stripe_webhook_secret"),
            ProviderName.ICOUNT: ("icount_api_token", "icount_paypage_id"),
        }
        for name in needed.get(self.effective_provider, ()):
            if getattr(self, name) is None:
                raise ValueError(
                    f"missing setting {name.upper()} (needed with PAYMENT_PROVIDER={self.effective_provider})"
                )
        if self.smtp_url is not None and self.email_from is None:
            raise ValueError("missing setting EMAIL_FROM (needed with SMTP_URL)")
        if self.whatsapp_token is not None:
            for name in ("whatsapp_phone_id", "whatsapp_app_secret", "whatsapp_verify_token"):
                if getattr(self, name) is None:
                    raise ValueError(f"missing setting {name.upper()} (needed with WHATSAPP_TOKEN)")
        if self.instagram_token is not None:
            if self.instagram_account_id is None:
                raise ValueError("missing setting INSTAGRAM_ACCOUNT_ID (needed with INSTAGRAM_TOKEN)")
            if self.instagram_app_secret is None and self.whatsapp_app_secret is None:
                raise ValueError("missing setting INSTAGRAM_APP_SECRET (needed with INSTAGRAM_TOKEN)")
        return self

    @property
    def base_url(self) -> str:
        """Where customers and providers reach this bot (payment pages, redirects, webhooks)."""
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def push_subject(self) -> str:
        """Who sends the dashboard's push notifications, as the VAPID ``sub`` claim."""
        if self.web_push_subject:
            return self.web_push_subject
        return self.base_url if self.base_url.startswith("https://") else "mailto:push@localhost"

    @property
    def push_hosts(self) -> tuple[str, ...]:
        return tuple(host.strip().lower() for host in self.web_push_hosts.split(",") if host.strip())

    @property
    def effective_provider(self) -> ProviderName:
        return self.payment_provider or ProviderName.SANDBOX

    @property
    def sandbox_whatsapp(self) -> bool:
        """No WhatsApp credentials: the bot talks to its built-in fake WhatsApp."""
        return self.whatsapp_token is None

    @property
    def instagram_on(self) -> bool:
        """Instagram Direct is on with its token, and in sandbox mode (the sandbox's own Instagram)."""
        return self.instagram_token is not None or self.sandbox_whatsapp

    @property
    def admin_phones(self) -> list[str]:
        return [p for p in self.vendor_admin_phones.split(",") if p]

    @property
    def default_deposit_percent(self) -> Percent:
        return Percent(self.deposit_default_percent)

    @property
    def reminder_offsets(self) -> tuple[timedelta, ...]:
        return parse_offsets(self.reminder_schedule)

    @property
    def smtp_server(self) -> SmtpServer | None:
        """Where customers' emails go; None: email is off."""
        return None if self.smtp_url is None else parse_smtp_url(self.smtp_url.get_secret_value())

    @property
    def email(self) -> EmailSettings | None:
        """What the payment flows need to queue customers' emails; None (no SMTP_URL): they queue none."""
        if self.smtp_url is None:
            return None
        return EmailSettings(invoice_wait=timedelta(seconds=self.email_invoice_wait_seconds))

    @property
    def quiet_hours(self) -> QuietHours | None:
        return parse_quiet_hours(self.reminder_quiet_hours)


def _domain_check(check: Any, problem: str) -> Any:
    """Runs a domain validation and turns its error into the ValueError pydantic reports."""
    try:
        return check()
    except DomainError as error:
        raise ValueError(problem) from error


def load_settings(env_file: str | None = ".env", **overrides: Any) -> Settings:
    """Settings from the environment (and ``env_file``), or ConfigError naming the bad setting."""
    try:
        return Settings(_env_file=env_file, **overrides)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]).upper()
        message = str(first["msg"]).removeprefix("Value error, ")
        if not where:
            raise ConfigError(message) from None
        raise ConfigError(f"invalid setting {where}: {message}") from None
