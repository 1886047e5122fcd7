"""Webhook ingest benchmark (DESIGN.md §8, issue 18), run by hand:

    .venv/bin/python bench/webhook_ingest.py --kind text|status|mixed [--database-url postgresql://...]
        [--duration 10] [--connections 32] [--targets bare,pywa,bot] [--bot-workers 1]

Unique signed WhatsApp webhooks, each carrying one event from one of 1,000 customers, are fired with wrk
(one thread, --connections connections, in its own process) at three servers in turn, on this machine:
- a bare aiohttp handler that answers 200 (the ceiling);
- pywa's own FastAPI route served by uvicorn (verifies the signature, dispatches to no-op handlers in the
  background, stores nothing): `pip install -e '.[bench]'`;
- the bot (`bot serve`, on a fresh Postgres database, talking to a fake Graph API), which verifies,
  splits, commits every event to the inbox and answers; its inbox worker processes them apart.
--kind: `text` customer messages, `status` delivery statuses, `mixed` one message to three statuses.
Prints requests/s and latency percentiles, the ratios, checks that every acknowledged webhook is in the
inbox, then how long the backlog took to drain after the load and the processing rate. Needs wrk
(apt-get install wrk).
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
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scratch_db import create_database, drop_database  # noqa: E402
from bot.sandbox import whatsapp_payloads as payloads  # noqa: E402

PHONE_ID = "100200300400500"
APP_SECRET = "bench-app-secret"
VERIFY_TOKEN = "bench-verify-token"
ADMIN = "33612345678"
CUSTOMERS = 1000

BARE_SERVER = """
import itertools
import sys
from aiohttp import web

SENT = itertools.count()

async def ok(request):
    await request.read()
    return web.Response(text="ok")

async def sent(request):
    await request.read()
    return web.json_response({
        "messaging_product": "whatsapp",
        "contacts": [{"input": "33600000000", "wa_id": "33600000000"}],
        "messages": [{"id": f"wamid.sent.{next(SENT)}"}],
    })

app = web.Application()
app.router.add_post("/webhooks/whatsapp", ok)
app.router.add_post("/{version}/{phone_id}/messages", sent)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""

PYWA_SERVER = """
import sys
import uvicorn
from fastapi import FastAPI
from pywa_async import WhatsApp

app = FastAPI()
wa = WhatsApp(
    phone_id=sys.argv[2], token="bench-token", server=app, webhook_endpoint="/webhooks/whatsapp",
    verify_token=sys.argv[3], app_secret=sys.argv[4], webhook_challenge_delay=0,
)

@wa.on_message
async def message(_client, _message):
    pass

@wa.on_message_status
async def status(_client, _status):
    pass

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
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
  index = 0
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
        except urllib.error.HTTPError:
            return  # it answers (a GET without the challenge's query is refused)
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def body_for(kind: str, index: int, run: str) -> bytes:
    customer = f"3370{index % CUSTOMERS:07d}"
    message = kind == "text" or (kind == "mixed" and index % 4 == 0)
    if message:
        payload = payloads.text_message(
            PHONE_ID, customer, f"Bonjour, message {index}", wamid=f"wamid.in.{run}.{index}", name="Client"
        )
    else:
        payload = payloads.status(PHONE_ID, f"wamid.out.{run}.{index}", "delivered", customer)
    return payloads.encode(payload)


def write_requests(path: Path, kind: str, count: int, run: str) -> None:
    """``count`` distinct signed webhooks, one per line: signature TAB body."""
    with path.open("w") as out:
        for index in range(count):
            body = body_for(kind, index, run)
            out.write(f"{payloads.sign(body, APP_SECRET)}\t{body.decode()}\n")


def run_wrk(base: str, script: Path, requests: Path, args: argparse.Namespace) -> dict[str, float]:
    command = [
        "wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}s", "--latency", "-s", str(script), base,
        "--", str(requests),
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", output)
    figures = {"requests_per_second": float(found.group(1)) if found else 0.0}
    for label, key in (("50%", "p50_ms"), ("90%", "p90_ms"), ("99%", "p99_ms")):
        match = re.search(rf"\s{re.escape(label)}\s+([\d.]+)(us|ms|s)", output)
        if match:
            value, unit = float(match.group(1)), match.group(2)
            figures[key] = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    total = re.search(r"(\d+) requests in", output)
    figures["requests"] = float(total.group(1)) if total else 0.0
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    figures["errors"] = float(non_2xx.group(1)) if non_2xx else 0.0
    figures["socket_errors"] = float(sum(int(g) for g in errors.groups())) if errors else 0.0
    return figures


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


async def inbox_counts(url: str) -> tuple[int, int, int]:
    """(rows, rows processed, message rows processed)."""
    connection = await asyncpg.connect(url)
    row = await connection.fetchrow(
        "SELECT count(*), count(processed_at),"
        " count(processed_at) FILTER (WHERE event_type = 'message') FROM inbound_events"
    )
    await connection.close()
    return int(row[0]), int(row[1]), int(row[2])


async def processing_span(url: str) -> tuple[float, float]:
    """Seconds between the first and the last event processed, and from the last arrival to it."""
    connection = await asyncpg.connect(url)
    row = await connection.fetchrow(
        "SELECT extract(epoch FROM max(processed_at) - min(processed_at)),"
        " extract(epoch FROM max(processed_at) - max(received_at)) FROM inbound_events"
    )
    await connection.close()
    return float(row[0] or 0), float(row[1] or 0)


def bench_target(name: str, command: list[str], port: int, env: dict[str, str] | None, cwd: Path,
                 ready: str, script: Path, requests: Path, args: argparse.Namespace
                 ) -> dict[str, float]:  # fmt: skip
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL)
    try:
        wait_ready(f"http://127.0.0.1:{port}{ready}")
        return run_wrk(f"http://127.0.0.1:{port}", script, requests, args)
    finally:
        if name != "bot":
            stop(process)
        else:
            BOT_PROCESSES.append(process)


BOT_PROCESSES: list[subprocess.Popen[bytes]] = []


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--kind", choices=["text", "status", "mixed"], default="text")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--targets", default="bare,pywa,bot")
    parser.add_argument(
        "--bot-workers",
        type=int,
        default=0,
        help="bot serve --workers N: N webhook processes and an inbox worker (0: one process for all)",
    )
    parser.add_argument("--events", type=int, default=300_000, help="distinct signed webhooks prepared")
    parser.add_argument("--drain-limit", type=float, default=300.0)
    parser.add_argument(
        "--drain-apart",
        action="store_true",
        help="no processing during the load (bot serve --processors 0), then one bot worker drains it",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    targets = args.targets.split(",")
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    script = work / "signed.lua"
    script.write_text(WRK_SCRIPT)
    requests = work / "requests.tsv"
    write_requests(requests, args.kind, args.events, uuid.uuid4().hex[:6])
    results: dict[str, dict[str, float]] = {}
    database = asyncio.run(create_database(args.database_url))
    graph_port = free_port()
    graph = subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(graph_port)])
    drain: dict[str, float] = {}
    try:
        wait_ready(f"http://127.0.0.1:{graph_port}/webhooks/whatsapp")
        if "bare" in targets:
            results["bare aiohttp"] = run_wrk(f"http://127.0.0.1:{graph_port}", script, requests, args)
        if "pywa" in targets:
            port = free_port()
            command = [sys.executable, "-c", PYWA_SERVER, str(port), PHONE_ID, VERIFY_TOKEN, APP_SECRET]
            results["pywa FastAPI + uvicorn"] = bench_target(
                "pywa", command, port, None, work, "/webhooks/whatsapp", script, requests, args
            )
        if "bot" in targets:
            env = {
                k: v for k, v in os.environ.items() if not k.startswith(("WHATSAPP_", "STRIPE_", "PAYMENT_"))
            }
            env.update({
                "DATABASE_URL": database, "LOG_LEVEL": "WARNING", "WHATSAPP_PHONE_ID": PHONE_ID,
                "WHATSAPP_TOKEN": "bench-token", "WHATSAPP_APP_SECRET": APP_SECRET,
                "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN, "WHATSAPP_GRAPH_URL": f"http://127.0.0.1:{graph_port}",
                "VENDOR_NAME": "Bench", "VENDOR_ADMIN_PHONES": f"+{ADMIN}", "PAYMENT_PROVIDER": "sandbox",
            })  # fmt: skip
            subprocess.run(
                [sys.executable, "-m", "bot", "migrate"], env=env, check=True, cwd=work, capture_output=True
            )
            port = free_port()
            env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
            command = [sys.executable, "-m", "bot", "serve", "--port", str(port)]
            if args.bot_workers or args.drain_apart:
                command += ["--workers", str(max(1, args.bot_workers))]
            if args.drain_apart:
                command += ["--processors", "0"]
            label = "bot (inbox on Postgres)"
            results[label] = bench_target("bot", command, port, env, work, "/readyz", script, requests, args)
            ended = time.monotonic()
            if args.drain_apart:
                BOT_PROCESSES.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "bot", "worker"], env=env, cwd=work, stdout=subprocess.DEVNULL
                    )
                )
            stored, processed, messages = asyncio.run(inbox_counts(database))
            while processed < stored and time.monotonic() - ended < args.drain_limit:
                time.sleep(0.2)
                stored, processed, messages = asyncio.run(inbox_counts(database))
            drain["drain_seconds"] = time.monotonic() - ended
            drain["stored"], drain["processed"], drain["messages_processed"] = stored, processed, messages
            span, _ = asyncio.run(processing_span(database))
            drain["processing_span_seconds"] = span
            for process in BOT_PROCESSES:
                stop(process)
    finally:
        stop(graph)
        for process in BOT_PROCESSES:
            if process.poll() is None:
                process.kill()
        asyncio.run(drop_database(args.database_url, database))
        shutil.rmtree(work, ignore_errors=True)
    report(args, results, drain)
    return 0


def report(args: argparse.Namespace, results: dict[str, dict[str, float]], drain: dict[str, float]) -> None:
    print(f"kind {args.kind}, wrk 1 thread, {args.connections} connections, {args.duration} s per target")
    print(
        f"{'server':<26} {'req/s':>10} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'non-2xx':>8} "
        f"{'sock err':>8}"
    )
    for name, figures in results.items():
        print(
            f"{name:<26} {figures['requests_per_second']:>10.0f} {figures.get('p50_ms', 0):>8.2f} "
            f"{figures.get('p90_ms', 0):>8.2f} {figures.get('p99_ms', 0):>8.2f} {figures['errors']:>8.0f} "
            f"{figures['socket_errors']:>8.0f}"
        )
    names = list(results)
    for index, name in enumerate(names):
        for other in names[index + 1 :]:
            ratio = results[other]["requests_per_second"] / max(results[name]["requests_per_second"], 1e-9)
            print(f"ratio {other} / {name}: {ratio:.2f}")
    bot = results.get("bot (inbox on Postgres)")
    if bot is not None:
        acknowledged = int(bot["requests"] - bot["errors"])
        events_per_request = 1
        distinct = min(acknowledged, args.events) * events_per_request
        print(
            f"inbox rows: {drain['stored']:.0f} for {acknowledged} acknowledged webhooks "
            f"({distinct} distinct)"
        )
        rate = (
            drain["processed"] / drain["processing_span_seconds"] if drain["processing_span_seconds"] else 0
        )
        message_rate = (
            drain["messages_processed"] / drain["processing_span_seconds"]
            if drain["processing_span_seconds"]
            else 0
        )
        print(
            f"backlog drained {drain['drain_seconds']:.1f} s after the load ended: "
            f"{drain['processed']:.0f} of "
            f"{drain['stored']:.0f} events processed over {drain['processing_span_seconds']:.1f} s, "
            f"{rate:.0f} events/s ({message_rate:.0f} customer messages/s)"
        )
        if drain["stored"] < distinct:
            print("MISSING: some acknowledged webhooks are not in the inbox")
    print(json.dumps({"results": results, "drain": drain}))


if __name__ == "__main__":
    raise SystemExit(main())
