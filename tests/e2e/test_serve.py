"""The README's first command, as a newcomer runs it: `bot serve` with no setting at all."""

from __future__ import annotations

import contextlib
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_support import clean_env, run_bot

START_TIMEOUT_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            pytest.fail(f"bot serve exited with {process.returncode}: {output}")
        try:
            if get(f"{base}/healthz")[0] == 200:
                break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("bot serve did not answer /healthz in time")
    yield base, process
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def test_bot_serve_with_no_setting_answers_health_and_readiness(
    served: tuple[str, subprocess.Popen[str]], tmp_path: Path
) -> None:
    base, process = served
    assert get(f"{base}/healthz") == (200, '{"status": "ok"}')
    status, body = get(f"{base}/readyz")
    assert status == 200 and '"ready"' in body
    status, body = get(f"{base}/metrics")
    assert status == 200 and "bot_http_requests_total" in body
    assert (tmp_path / "bot.db").exists()
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=15)
    assert process.returncode == 0
    assert "sandbox mode" in output
    assert f"listening on {base}" in output
    assert "Traceback" not in output
    vendors = run_bot(tmp_path, "vendor", "list")
    assert vendors.returncode == 0 and "Demo vendor" in vendors.stdout


def test_a_second_server_on_a_taken_port_says_so_in_one_line(
    served: tuple[str, subprocess.Popen[str]], tmp_path: Path
) -> None:
    base, _ = served
    port = base.rsplit(":", 1)[1]
    other = run_bot(tmp_path, "serve", "--port", port)
    assert other.returncode == 1
    assert "cannot listen" in other.stderr
    assert "Traceback" not in other.stderr


def outbox(database: Path) -> list[tuple[object, ...]]:
    """Every outbox row as it stands, read without writing to the file."""
    query = "SELECT id, kind, status, attempts, next_attempt_at, last_error, sent_at FROM outbox_messages"
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        return connection.execute(query + " ORDER BY id").fetchall()


def test_a_port_in_use_stops_bot_serve_in_one_line_before_anything_in_the_database_changes(
    tmp_path: Path,
) -> None:
    for argv in (
        ("vendor", "add", "--name", "Boulangerie", "--admin", "+33612345678"),
        ("order", "create", "--customer", "+33699887766", "--price", "150", "--accept"),
        ("pay", "1", "--deposit", "30%"),
    ):
        done = run_bot(tmp_path, *argv)
        assert done.returncode == 0, done.stderr
    database = tmp_path / "bot.db"
    queued = outbox(database)
    assert [row[1:4] for row in queued] == [("payment_request", "pending", 0)], "a message waits to be sent"
    before = database.read_bytes()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        refused = run_bot(tmp_path, "serve", "--port", str(port))
    assert refused.returncode == 1
    [line] = refused.stderr.splitlines()
    assert line.startswith(f"bot: cannot listen on 127.0.0.1:{port}: "), line
    assert refused.stdout == ""
    assert outbox(database) == queued, "the outbox sender never started"
    assert database.read_bytes() == before, "nothing in the database changed"
