"""``bot admin link``: a one-time sign-in link to the dashboard, as text and as JSON, in process on a fresh
SQLite file; the link works once, for 10 minutes, and only its hash is stored; a phone that is no admin's
gets one line and a non-zero exit."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.services import admin_auth
from bot.store.database import create_engine
from bot.store.uow import UnitOfWorkFactory
from tests.integration.test_cli import check_one_line_failure, in_tmp, run_main
from tests.integration.test_cli_outputs import ok, refused, vendor

# The CLI tests' fixtures (a fresh SQLite file, a sandbox vendor), exported so pytest and ruff see them used.
__all__ = ["in_tmp", "vendor"]

ADMIN = "+33612345678"
LINK_PREFIX = "http://127.0.0.1:8080/admin/login/link/"


def signs_in(url: str, at: datetime) -> str | None:
    """The phone the link signs in at ``at`` (using it up), or None, on the CLI's database (``./bot.db``)."""

    async def run() -> str | None:
        engine = create_engine("sqlite:///bot.db")
        try:
            new = await admin_auth.use_link(UnitOfWorkFactory(engine), url.rsplit("/", 1)[1], at)
        finally:
            await engine.dispose()
        return None if new is None else new.session.phone

    return asyncio.run(run())


def test_admin_link_prints_a_one_time_link_and_until_when_it_works(
    vendor: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, note = ok(capsys, "admin", "link", "--phone", "+33 6 12 34 56 78").splitlines()
    assert url.startswith(LINK_PREFIX) and len(url) > len(LINK_PREFIX) + 40
    assert note.startswith("it works once, until ") and note.endswith(f"as {ADMIN} (Boulangerie)")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", note.split("until ", 1)[1].split(" UTC:", 1)[0])
    token = url.rsplit("/", 1)[1]
    assert token.encode() not in (vendor / "bot.db").read_bytes(), "only the link's hash is stored"


def test_admin_link_json_gives_the_url_phone_vendors_and_expiry_and_the_link_signs_in_once(
    vendor: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://pay.example.com/")
    data = json.loads(ok(capsys, "admin", "link", "--phone", ADMIN, "--vendor", "Boulangerie", "--json"))
    assert set(data) == {"url", "phone", "vendors", "expires_at"}
    assert data["url"].startswith("https://pay.example.com/admin/login/link/")
    assert data["phone"] == ADMIN and data["vendors"] == ["Boulangerie"]
    expires_at = datetime.fromisoformat(data["expires_at"])
    assert expires_at.tzinfo is not None
    assert signs_in(data["url"], expires_at - timedelta(minutes=1)) == ADMIN.lstrip("+")
    assert signs_in(data["url"], expires_at - timedelta(minutes=1)) is None, "once only"
    later = json.loads(ok(capsys, "admin", "link", "--phone", ADMIN, "--json"))
    assert later["url"] != data["url"]
    assert signs_in(later["url"], datetime.fromisoformat(later["expires_at"])) is None, "10 minutes only"


def test_a_phone_that_is_no_vendor_s_admin_gets_one_line_and_exit_1(
    vendor: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refused(capsys, "admin", "link", "--phone", "+33699887766")
    assert "+33699887766 is no vendor's admin" in err
    assert ok(capsys, "vendor", "add", "--name", "Fleurs", "--admin", "+33611112222")
    err = refused(capsys, "admin", "link", "--phone", ADMIN, "--vendor", "Fleurs")
    assert f"{ADMIN} is not an admin of 'Fleurs'" in err
    assert "No vendor named" in refused(capsys, "admin", "link", "--phone", ADMIN, "--vendor", "Nobody")
    assert "0612" in refused(capsys, "admin", "link", "--phone", "0612")
    assert "is no vendor's admin" in refused(capsys, "admin", "link", "--phone", "+33699887766", "--json")


@pytest.mark.parametrize("argv", [["admin"], ["admin", "link"], ["admin", "link", "--phone"]])
def test_admin_link_without_a_phone_is_one_line_and_exit_2(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, _, err = run_main(capsys, *argv)
    assert code == 2
    check_one_line_failure(code, err)
    assert not (in_tmp / "bot.db").exists(), "a bad argument touches no database"
