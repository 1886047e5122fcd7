"""`bot serve --workers N` runs several processes over one Postgres database, with real WhatsApp
credentials: in sandbox mode or on SQLite it stops at once with one line saying why, and a non-zero exit,
before it binds a port or starts a process. In process, on a fresh directory (``in_tmp``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_cli import check_one_line_failure, in_tmp, run_main

__all__ = ["in_tmp"]

WHATSAPP = {
    "WHATSAPP_TOKEN": "token",
    "WHATSAPP_PHONE_ID": "1234567890",
    "WHATSAPP_APP_SECRET": "secret",
    "WHATSAPP_VERIFY_TOKEN": "verify",
}


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = run_main(capsys, *argv)
    check_one_line_failure(code, err)
    assert code == 2, (argv, err)
    assert "listening" not in out
    return err


def test_serve_with_workers_refuses_sandbox_mode_in_one_line(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Postgres named, no WhatsApp credentials: the sandbox's fake WhatsApp lives in one process.
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/unused")
    err = refused(capsys, "serve", "--workers", "2", "--port", "0")
    assert err.startswith("bot: --workers needs WhatsApp credentials") and "sandbox" in err


def test_serve_with_workers_refuses_sqlite_in_one_line(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in WHATSAPP.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{in_tmp / 'bot.db'}")
    err = refused(capsys, "serve", "--workers", "2", "--processors", "1", "--port", "0")
    assert err.startswith("bot: --workers needs Postgres (DATABASE_URL)") and "SQLite" in err
    assert not (in_tmp / "bot.db").exists()  # refused before anything touched the database


def test_a_worker_refuses_sandbox_mode_in_one_line(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = refused(capsys, "worker", "--lease", "30")
    assert err.startswith("bot: bot worker needs WhatsApp credentials")


@pytest.mark.parametrize("count", ["0", "65", "two"])
def test_serve_refuses_a_number_of_workers_out_of_range_in_one_line(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], count: str
) -> None:
    err = refused(capsys, "serve", "--workers", count)
    assert "--workers" in err
