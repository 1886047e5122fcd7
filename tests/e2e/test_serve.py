"""The README's first command, as a newcomer runs it: `bot serve` with no setting at all."""

from __future__ import annotations

import signal
import socket
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
