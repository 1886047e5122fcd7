"""The deployment files validate offline with their own tools: the systemd unit (``systemd-analyze
verify``, and its exposure score), the Caddyfile (``caddy validate``) and compose.yaml (``docker-compose
config``). Each test skips, saying which Debian package to install, only when its tool is missing
(.ci/run installs them)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.config import DEFAULT_PORT

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "bot.service"
CADDYFILE = ROOT / "deploy" / "Caddyfile"
COMPOSE = ROOT / "compose.yaml"
INSTALLED_BOT = "/opt/bot/venv/bin/bot"
# systemd-analyze security's scale: 0 (locked down) to 10 (exposed); 2 and under is "OK".
MAX_EXPOSURE = 2.5


def tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (Debian package {package}: apt-get install {package})")
    return found


def run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def unit_here(tmp_path: Path) -> Path:
    """The unit, its ExecStart pointing at a stand-in for the installed bot (verify checks it is there)."""
    stand_in = tmp_path / "bot"
    stand_in.write_text("#!/bin/sh\nexit 0\n")
    stand_in.chmod(0o755)
    unit = tmp_path / "bot.service"
    unit.write_text(UNIT.read_text().replace(INSTALLED_BOT, str(stand_in)))
    return unit


def test_the_systemd_unit_verifies_without_a_warning(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze", "systemd")
    done = run(analyze, "verify", "--man=no", str(unit_here(tmp_path)))
    assert (done.returncode, done.stderr.strip(), done.stdout.strip()) == (0, "", "")


def test_systemd_verify_does_catch_a_mistyped_directive(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze", "systemd")
    unit = unit_here(tmp_path)
    unit.write_text(unit.read_text().replace("ProtectSystem=strict", "ProtectSystem=strictly"))
    done = run(analyze, "verify", "--man=no", str(unit))
    assert "strictly" in done.stderr, "a warning, so the clean run above means no warning"


def test_the_unit_runs_the_bot_unprivileged_from_its_environment_file_and_restarts_on_failure() -> None:
    lines = {line.strip() for line in UNIT.read_text().splitlines()}
    for directive in (
        "User=bot", "EnvironmentFile=/etc/bot/bot.env", "Restart=on-failure", "NoNewPrivileges=yes",
        "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "CapabilityBoundingSet=",
        f"ExecStartPre={INSTALLED_BOT} migrate", f"ExecStart={INSTALLED_BOT} serve --workers 2",
    ):  # fmt: skip
        assert directive in lines, directive


def test_the_units_exposure_score_stays_low(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze", "systemd")
    unit = unit_here(tmp_path)
    done = run(analyze, "security", "--offline=yes", f"--threshold={MAX_EXPOSURE * 10:.0f}", str(unit))
    if "Unknown option" in done.stderr or "unrecognized option" in done.stderr:
        pytest.skip("this systemd-analyze has no offline security scan (systemd 250 and later)")
    summary = done.stdout.strip().splitlines()[-1]
    assert done.returncode == 0, summary
    assert "Overall exposure level for bot.service" in summary


def caddy_env(tmp_path: Path) -> dict[str, str]:
    # Caddy keeps its state under $HOME / $XDG_*: a test directory, never the real one.
    return {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path),
    }


def test_the_caddyfile_validates_and_proxies_to_the_bots_local_port(tmp_path: Path) -> None:
    caddy = tool("caddy", "caddy")
    done = run(
        caddy, "validate", "--config", str(CADDYFILE), "--adapter", "caddyfile", env=caddy_env(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    assert "Valid configuration" in done.stdout + done.stderr
    assert '"level":"warn"' not in done.stderr, done.stderr
    assert f"reverse_proxy 127.0.0.1:{DEFAULT_PORT}" in CADDYFILE.read_text()


def test_caddy_validate_does_refuse_a_broken_caddyfile(tmp_path: Path) -> None:
    caddy = tool("caddy", "caddy")
    broken = tmp_path / "Caddyfile"
    broken.write_text(CADDYFILE.read_text().replace("reverse_proxy 127.0.0.1", "reverse_proxi 127.0.0.1"))
    done = run(caddy, "validate", "--config", str(broken), "--adapter", "caddyfile", env=caddy_env(tmp_path))
    assert done.returncode != 0 and "reverse_proxi" in done.stderr


def compose_here(tmp_path: Path) -> Path:
    """compose.yaml beside what it reads: the Dockerfile it builds and a .env copied from .env.example."""
    shutil.copy(COMPOSE, tmp_path / "compose.yaml")
    shutil.copy(ROOT / "Dockerfile", tmp_path / "Dockerfile")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    return tmp_path


def test_compose_yaml_validates_with_the_bot_migrating_then_serving_behind_a_healthy_postgres(
    tmp_path: Path,
) -> None:
    compose = tool("docker-compose", "docker-compose")
    folder = compose_here(tmp_path)
    env = {**os.environ, "POSTGRES_PASSWORD": "a-test-password"}
    done = run(compose, "-f", "compose.yaml", "config", cwd=folder, env=env)
    assert done.returncode == 0, done.stderr
    config = done.stdout
    assert "bot migrate && exec bot serve --workers 1" in config
    assert "condition: service_healthy" in config
    assert "http://127.0.0.1:8080/readyz" in config
    assert "DATABASE_URL: postgresql://bot:a-test-password@db:5432/bot" in config
    assert "127.0.0.1:8080:8080" in config, "published on the loopback only, for Caddy"
    services = run(compose, "-f", "compose.yaml", "config", "--services", cwd=folder, env=env)
    assert sorted(services.stdout.split()) == ["bot", "db"]


def test_compose_yaml_refuses_to_start_without_a_postgres_password(tmp_path: Path) -> None:
    compose = tool("docker-compose", "docker-compose")
    env = {k: v for k, v in os.environ.items() if k != "POSTGRES_PASSWORD"}
    done = run(compose, "-f", "compose.yaml", "config", cwd=compose_here(tmp_path), env=env)
    assert done.returncode != 0 and "set POSTGRES_PASSWORD in .env" in done.stderr


def test_the_image_installs_the_package_on_python_3_11_slim() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "RUN pip install ." in dockerfile
    assert "USER bot" in dockerfile
