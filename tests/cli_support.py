"""Running the real ``bot`` command in a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SETTINGS_PREFIXES = ("DATABASE_URL", "WHATSAPP_", "STRIPE_", "ICOUNT_", "VENDOR_", "PAYMENT_", "REMINDER_",
                     "DEPOSIT_", "SECRET_KEY", "PUBLIC_BASE_URL", "LOG_")  # fmt: skip


def clean_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS_PREFIXES)}
    env.update(settings)
    return env


def run_bot(cwd: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=clean_env(**settings),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )
