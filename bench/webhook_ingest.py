"""Webhook ingest benchmark (DESIGN.md §8), run by hand:

    .venv/bin/python bench/webhook_ingest.py [--database-url postgresql://...] [--duration 15]

Signed WhatsApp status webhooks (the bulk of Meta's traffic: sent/delivered/read for every message) are
fired with wrk at two servers in turn, on this machine: a bare aiohttp handler that answers 200, and the
bot (`bot serve`, sandbox mode, on Postgres), which verifies the signature, splits the body, commits the
event to the inbox and answers. Prints requests/s and latency percentiles of both, their ratio, and checks
that every acknowledged event is in the inbox. Needs wrk (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.sandbox import whatsapp_payloads as payloads  # noqa: E402
from bot.whatsapp.clients import SANDBOX_APP_SECRET, SANDBOX_PHONE_ID  # noqa: E402

BARE_SERVER = """
import sys
from aiohttp import web

async def ok(request):
    await request.read()
    return web.Response(text="ok")

app = web.Application()
app.router.add_post("/webhooks/whatsapp", ok)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""

WRK_SCRIPT = """
local bodies, signatures, count = {}, {}, 0
function init(args)
  for line in io.lines(args[1]) do
    local tab = line:find("\\t")
    count = count + 1
    signatures[count] = line:sub(1, tab - 1)
    bodies[count] = line:sub(tab + 1)
  end
  index = tonumber(args[2]) or 0
end
function request()
  index = index % count + 1
  return wrk.format("POST", "/webhooks/whatsapp",
    {["Content-Type"] = "application/json", ["X-Hub-Signature-256"] = signatures[index]}, bodies[index])
end
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status in (200, 405):
                    return
        except urllib.error.HTTPError as error:
            if error.code == 405:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def write_requests(path: Path, count: int, run: str) -> None:
    """``count`` distinct signed status webhooks, one per line: signature TAB body."""
    with path.open("w") as out:
        for index in range(count):
            payload = payloads.status(
                SANDBOX_PHONE_ID, f"wamid.bench.{run}.{index}", "delivered", "33699887766"
            )
            body = payloads.encode(payload)
            out.write(f"{payloads.sign(body, SANDBOX_APP_SECRET)}\t{body.decode()}\n")


def run_wrk(
    base: str, script: Path, requests: Path, duration: int, connections: int, threads: int
) -> dict[str, float]:
    command = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), base,
        "--", str(requests),
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    figures = {"requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))}  # type: ignore[union-attr]
    for label, key in (("50%", "p50_ms"), ("90%", "p90_ms"), ("99%", "p99_ms")):
        match = re.search(rf"\s{re.escape(label)}\s+([\d.]+)(us|ms|s)", output)
        if match:
            value, unit = float(match.group(1)), match.group(2)
            figures[key] = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    total = re.search(r"(\d+) requests in", output)
    figures["requests"] = float(total.group(1)) if total else 0.0
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    figures["errors"] = float(non_2xx.group(1)) if non_2xx else 0.0
    return figures


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


async def create_database(admin_url: str) -> str:
    name = f"bot_bench_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(admin_url)
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    return admin_url.rsplit("/", 1)[0] + "/" + name


async def drop_database(admin_url: str, url: str) -> None:
    connection = await asyncpg.connect(admin_url)
    await connection.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    await connection.close()


async def stored_events(url: str) -> int:
    connection = await asyncpg.connect(url)
    count = await connection.fetchval("SELECT count(*) FROM inbound_events")
    await connection.close()
    return int(count)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--events", type=int, default=400_000, help="distinct signed webhooks prepared")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    database = asyncio.run(create_database(args.database_url))
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    script = work / "signed.lua"
    script.write_text(WRK_SCRIPT)
    requests = work / "requests.tsv"
    write_requests(requests, args.events, uuid.uuid4().hex[:6])
    results: dict[str, dict[str, float]] = {}
    try:
        port = free_port()
        bare = subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(port)])
        try:
            wait_ready(f"http://127.0.0.1:{port}/webhooks/whatsapp")
            results["bare aiohttp"] = run_wrk(
                f"http://127.0.0.1:{port}", script, requests, args.duration, args.connections, args.threads
            )
        finally:
            stop(bare)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WHATSAPP_", "STRIPE_", "PAYMENT_"))}
        env.update({"DATABASE_URL": database, "LOG_LEVEL": "WARNING"})
        subprocess.run(
            [sys.executable, "-m", "bot", "migrate"], env=env, check=True, cwd=work, capture_output=True
        )
        port = free_port()
        env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
        bot = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", str(port)], env=env, cwd=work,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_ready(f"http://127.0.0.1:{port}/readyz")
            results["bot (inbox on Postgres)"] = run_wrk(
                f"http://127.0.0.1:{port}", script, requests, args.duration, args.connections, args.threads
            )
        finally:
            stop(bot)
        stored = asyncio.run(stored_events(database))
    finally:
        asyncio.run(drop_database(args.database_url, database))
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'server':<26} {'req/s':>10} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for name, figures in results.items():
        print(
            f"{name:<26} {figures['requests_per_second']:>10.0f} {figures.get('p50_ms', 0):>8.2f} "
            f"{figures.get('p90_ms', 0):>8.2f} {figures.get('p99_ms', 0):>8.2f} {figures['errors']:>8.0f}"
        )
    bare_rate = results["bare aiohttp"]["requests_per_second"]
    bot_figures = results["bot (inbox on Postgres)"]
    ratio = bot_figures["requests_per_second"] / bare_rate
    print(f"ratio bot / bare: {ratio:.2f} (target >= 0.50, p99 < 50 ms)")
    acknowledged = int(bot_figures["requests"] - bot_figures["errors"])
    distinct = min(acknowledged, args.events)
    print(f"inbox rows: {stored} for {acknowledged} acknowledged webhooks ({distinct} distinct)")
    print(json.dumps(results))
    return 0 if stored >= distinct else 1


if __name__ == "__main__":
    raise SystemExit(main())
