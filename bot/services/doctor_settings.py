"""The checks ``bot doctor`` makes from the settings alone: the public address, the database URL, the
secrets. No I/O. A secret is only ever said to be set or missing, never shown."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from bot.config import Settings
from bot.domain.vendor import ProviderName
from bot.services.doctor_report import Check, Status
from bot.store.database import TRANSACTION_POOLER_PORT

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})
# A shorter SECRET_KEY still works; it is just easier to guess.
MIN_SECRET_KEY = 32
WEBHOOK_PATHS = ("/webhooks/whatsapp", "/webhooks/instagram", "/webhooks/stripe", "/webhooks/icount/…")


def settings_checks(settings: Settings) -> list[Check]:
    return [
        _loaded(settings),
        _public_base_url(settings),
        _webhook_urls(settings),
        _database_url(settings),
        _secret_key(settings),
        *_meta_secrets(settings),
    ]


def sandbox_only(settings: Settings) -> bool:
    """Nothing real is connected: the built-in fake WhatsApp and the sandbox payment provider."""
    return settings.sandbox_whatsapp and settings.effective_provider is ProviderName.SANDBOX


def _loaded(settings: Settings) -> Check:
    whatsapp = "sandbox (the built-in fake WhatsApp)" if settings.sandbox_whatsapp else "WhatsApp Cloud API"
    detail = f"loaded; {whatsapp}; default payment provider {settings.effective_provider}"
    if settings.sandbox_whatsapp:
        fix = (
            "set WHATSAPP_TOKEN, WHATSAPP_PHONE_ID, WHATSAPP_APP_SECRET and WHATSAPP_VERIFY_TOKEN to go live"
        )
        return Check("settings", Status.WARN, detail, fix)
    return Check("settings", Status.OK, detail)


def _public_base_url(settings: Settings) -> Check:
    name = "public_base_url"
    value = settings.public_base_url
    if not value:
        detail = f"unset: links and webhooks point to {settings.base_url}"
        fix = "set PUBLIC_BASE_URL=https://your.domain (Caddy in front, docs/deploy.md)"
        return Check(name, Status.WARN if sandbox_only(settings) else Status.FAIL, detail, fix)
    try:
        parts = urlsplit(value)
        host = (parts.hostname or "").lower()
    except ValueError:
        return Check(name, Status.FAIL, f"{value!r} is not a URL", "set PUBLIC_BASE_URL=https://your.domain")
    if parts.scheme not in ("http", "https") or not host:
        return Check(
            name, Status.FAIL, f"{value!r} is not an http(s) URL", "set PUBLIC_BASE_URL=https://your.domain"
        )
    if parts.query or parts.fragment or parts.path.strip("/"):
        detail = f"{value} has a path: the bot's routes are at the root (/webhooks/..., /pay/...)"
        return Check(name, Status.FAIL, detail, "use the bare origin, https://your.domain")
    if parts.scheme == "https":
        if host in LOCAL_HOSTS:
            return Check(name, Status.WARN, f"{value}: https, but a local address nobody else reaches")
        return Check(name, Status.OK, f"{value} (https)")
    # Meta refuses http callback URLs, and customers' payment pages must not be plain http.
    local = host in LOCAL_HOSTS
    detail = f"{value} is plain http" + (" (a local address)" if local else "")
    fix = "serve it over https (Caddy, deploy/Caddyfile) and set PUBLIC_BASE_URL=https://..."
    return Check(name, Status.WARN if local or sandbox_only(settings) else Status.FAIL, detail, fix)


def _webhook_urls(settings: Settings) -> Check:
    base = settings.base_url
    detail = (
        f"Meta: {base}/webhooks/whatsapp (and {base}/webhooks/instagram), Stripe: {base}/webhooks/stripe; "
        f"iCount is given {base}/webhooks/icount/<per-request secret> with each sale"
    )
    return Check("webhook urls", Status.OK, detail)


def _database_url(settings: Settings) -> Check:
    name = "database url"
    url = make_url(settings.database_url.replace("postgres://", "postgresql://", 1))
    if url.get_backend_name() == "sqlite":
        detail = "SQLite: one process on one machine (no --workers)"
        if settings.sandbox_whatsapp:
            return Check(name, Status.OK, detail)
        return Check(
            name, Status.WARN, detail, "use Postgres (Supabase's session pooler or direct) in production"
        )
    port = url.port or 5432
    pooled = "pooler.supabase.com" in (url.host or "")
    if port == TRANSACTION_POOLER_PORT or url.query.get("pgbouncer") == "true":
        detail = (
            "a transaction pooler (port 6543): no session, so no LISTEN/NOTIFY or advisory locks, and "
            "asyncpg's prepared statements can clash"
        )
        fix = "use Supabase's session pooler (the same host, port 5432) or the direct connection"
        return Check(name, Status.WARN, detail, fix)
    kind = "Supabase session pooler" if pooled else "Postgres"
    detail = f"{kind}, port {port}"
    if "supabase" in (url.host or "") and "sslmode" not in url.query and "ssl" not in url.query:
        return Check(name, Status.WARN, detail + ", TLS not required", "add ?sslmode=require to DATABASE_URL")
    return Check(name, Status.OK, detail)


def _secret_key(settings: Settings) -> Check:
    secret = settings.secret_key
    if secret is None:
        detail = "unset: vendors cannot store their own credentials, the dashboard's web push is off"
        return Check("secret_key", Status.WARN, detail, "set SECRET_KEY to a long random string, and keep it")
    if len(secret.get_secret_value()) < MIN_SECRET_KEY:
        return Check("secret_key", Status.WARN, "set, but short", f"use {MIN_SECRET_KEY} characters or more")
    return Check("secret_key", Status.OK, "set")


def _meta_secrets(settings: Settings) -> list[Check]:
    """The webhooks' secrets: Meta signs each POST with the app secret, and checks the verify token once."""
    checks = []
    if settings.sandbox_whatsapp:
        checks.append(Check("whatsapp webhook", Status.OK, "sandbox stand-ins (no real webhook)"))
    else:
        missing = [
            setting
            for setting, value in (
                ("WHATSAPP_APP_SECRET", settings.whatsapp_app_secret),
                ("WHATSAPP_VERIFY_TOKEN", settings.whatsapp_verify_token),
            )
            if value is None or not value.get_secret_value().strip()
        ]
        if missing:
            fix = "set " + " and ".join(missing) + " (the Meta app's secret; the token you give Meta)"
            checks.append(Check("whatsapp webhook", Status.FAIL, "missing " + ", ".join(missing), fix))
        else:
            checks.append(Check("whatsapp webhook", Status.OK, "app secret and verify token set"))
    if settings.instagram_token is not None:
        secret = settings.instagram_app_secret or settings.whatsapp_app_secret
        verify = settings.instagram_verify_token or settings.whatsapp_verify_token
        if secret is None or verify is None:
            missing_ig = "INSTAGRAM_APP_SECRET" if secret is None else "INSTAGRAM_VERIFY_TOKEN"
            checks.append(
                Check("instagram webhook", Status.FAIL, f"missing {missing_ig}", f"set {missing_ig}")
            )
        else:
            checks.append(Check("instagram webhook", Status.OK, "app secret and verify token set"))
    return checks
