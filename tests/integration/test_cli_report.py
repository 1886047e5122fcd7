"""``bot report`` on a seeded month (tests/report_support.py), in process on a fresh SQLite file: the totals
per method (cash, link, refunds), two currencies kept apart, the CSV with its BOM and header, --json, and
the one line a bad argument gets (exit 2)."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path

import pytest

from tests.integration.test_cli import check_one_line_failure, in_tmp, run_main
from tests.report_support import seed_month_in

__all__ = ["in_tmp"]

NOVEMBER = ("--from", "2026-11-01", "--to", "2026-12-01")
HEADER = "date,order,customer,type,method,provider,status,amount,refunded,net,currency"


@pytest.fixture
def seeded(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    code, _, err = run_main(capsys, "vendor", "add", "--name", "Boulangerie", "--admin", "+33612345678")
    assert code == 0, err
    asyncio.run(seed_month_in(in_tmp))
    return in_tmp


def ok(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = run_main(capsys, *argv)
    assert code == 0 and err == "", (argv, err)
    return out


def test_report_by_month_with_csv_gives_the_totals_per_method_and_keeps_two_currencies_apart(
    seeded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = ok(capsys, "report", *NOVEMBER, "--by", "month", "--csv", "november.csv")
    lines = out.splitlines()
    assert lines[0] == "report from 2026-11-01 to 2026-11-30 (Europe/Paris), by month"
    eur, usd = lines.index("EUR"), lines.index("USD")
    euros, dollars = lines[eur:usd], lines[usd:]

    def figures(block: list[str], name: str) -> list[str]:
        [line] = [line for line in block if line.startswith(f"  {name} ")]
        return line[len(name) + 2 :].split()

    assert figures(euros, "2026-11") == ["280.00", "45.00", "235.00", "6"]
    assert figures(euros, "total") == ["280.00", "45.00", "235.00", "6"]
    assert figures(euros, "cash register") == ["60.00", "10.00", "50.00", "2"]
    assert figures(euros, "card link") == ["120.00", "35.00", "85.00", "2"]
    assert figures(euros, "saved card") == ["40.00", "0.00", "40.00", "1"]
    assert figures(euros, "guarantee capture") == ["60.00", "0.00", "60.00", "1"]
    assert figures(dollars, "total") == ["70.00", "0.00", "70.00", "1"]
    assert lines[-1] == "7 payment(s) written to november.csv"
    raw = (seeded / "november.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf" + HEADER.encode() + b"\r\n")
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert len(rows) == 7
    by_method: dict[tuple[str, str], float] = {}
    for row in rows:
        key = (row["method"], row["currency"])
        by_method[key] = by_method.get(key, 0) + float(row["amount"])
    assert by_method == {
        ("cash", "EUR"): 60, ("card", "EUR"): 120, ("saved_card", "EUR"): 40, ("capture", "EUR"): 60,
        ("card", "USD"): 70,
    }  # fmt: skip
    [refunded] = [row for row in rows if row["status"] == "refunded"]
    assert (refunded["order"], refunded["amount"], refunded["refunded"], refunded["net"]) == (
        "#6", "10.00", "10.00", "0.00",
    )  # fmt: skip


def test_report_csv_to_stdout_writes_only_the_filtered_rows(
    seeded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = ok(capsys, "report", *NOVEMBER, "--method", "cash", "--csv", "-")
    assert out.startswith("\ufeff" + HEADER)
    lines = out.removeprefix("\ufeff").splitlines()
    assert len(lines) == 3 and all(",cash," in line for line in lines[1:])
    assert lines[1].startswith("2026-11-03 13:00:00,#6,+33699887766,acompte,cash,,refunded,10.00")


def test_report_json_keeps_currencies_apart_with_periods_methods_and_providers(
    seeded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(ok(capsys, "report", *NOVEMBER, "--by", "week", "--json"))
    assert (data["from"], data["to"], data["by"], data["timezone"]) == (
        "2026-11-01", "2026-12-01", "week", "Europe/Paris",
    )  # fmt: skip
    eur, usd = data["currencies"]
    assert (eur["currency"], eur["collected"], eur["refunded"], eur["net"]) == (
        "EUR",
        "280.00",
        "45.00",
        "235.00",
    )
    assert (usd["currency"], usd["collected"]) == ("USD", "70.00")
    assert [p["period"] for p in eur["periods"]][:2] == ["2026-10-26", "2026-11-02"]
    assert {m["method"]: m["collected"] for m in eur["methods"]}["cash"] == "60.00"
    assert {p["provider"]: p["collected"] for p in eur["providers"]} == {
        "icount": "20.00", "stripe": "200.00", None: "60.00",
    }  # fmt: skip


def test_a_filtered_report_and_an_empty_one_print_their_tables(
    seeded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = ok(capsys, "report", *NOVEMBER, "--status", "refunded", "--order", "6")
    assert "  total                       10.00        10.00         0.00         1" in out
    empty = ok(capsys, "report", "--from", "2025-01-01", "--to", "2025-02-01")
    assert empty.splitlines() == [
        "report from 2025-01-01 to 2025-01-31 (Europe/Paris), by month",
        "no payment in this period",
    ]


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--from", "2026-11-10", "--to", "2026-11-01"], "before it starts"),
        (["--from", "10/11/2026"], "10/11/2026"),
        (["--by", "year"], "year"),
        (["--method", "cheque"], "cheque"),
        (["--customer", "nobody"], "nobody"),
        (["--csv", "-", "--json"], "--json"),
        (["--csv", "no/such/dir/x.csv", *NOVEMBER], "no/such/dir/x.csv"),
    ],
    ids=[
        "inverted range",
        "bad date",
        "bad period",
        "bad method",
        "bad customer",
        "csv and json",
        "bad file",
    ],
)
def test_a_bad_report_argument_is_one_line_and_exit_2(
    seeded: Path, capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    code, out, err = run_main(capsys, "report", *argv)
    check_one_line_failure(code, err)
    assert code == 2 and out == "" and err.startswith("bot: ") and words in err, err
