from decimal import Decimal

import pytest

from airlock.checks.quantity import format_bytes, format_cpu, parse_quantity
from airlock.checks.result import CheckResult, failing, format_table, results_table, run_guarded


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("250m", Decimal("0.25")),
        ("2", Decimal(2)),
        ("1.5", Decimal("1.5")),
        ("1536Mi", Decimal(1536 * 1024**2)),
        ("1.5Gi", Decimal(int(1.5 * 1024**3))),
        ("128974848", Decimal(128974848)),
        ("129e6", Decimal(129_000_000)),
        ("1E3", Decimal(1000)),
        ("1E", Decimal(10**18)),
        ("100M", Decimal(100_000_000)),
        ("100k", Decimal(100_000)),
        ("500n", Decimal("0.0000005")),
        ("3u", Decimal("0.000003")),
        ("4Ki", Decimal(4096)),
        (".5", Decimal("0.5")),
        ("-1", Decimal(-1)),
        (3, Decimal(3)),
    ],
)
def test_parse_quantity(text, expected):
    assert parse_quantity(text) == expected


@pytest.mark.parametrize("bad", ["", "abc", "1.2.3", "12mi", "1KiB", "Mi", "1 Gi", True])
def test_parse_quantity_rejects(bad):
    with pytest.raises(ValueError, match="quantity"):
        parse_quantity(bad)


def test_format_quantities():
    assert format_cpu(Decimal("0.25")) == "250m"
    assert format_cpu(Decimal(2)) == "2"
    assert format_bytes(1536 * 1024**2) == "1.5Gi"
    assert format_bytes(512) == "512"


def test_check_result_status_is_validated_and_json_able():
    with pytest.raises(ValueError, match="status"):
        CheckResult("x", "ok", "r")  # type: ignore[arg-type]
    r = CheckResult("x", "pass", "fine", {"n": Decimal("1.5"), "nested": {"a": [1, 2]}})
    d = r.to_dict()
    assert d == {
        "name": "x",
        "status": "pass",
        "reason": "fine",
        "evidence": {"n": "1.5", "nested": {"a": [1, 2]}},
    }
    assert CheckResult.from_dict(d).name == "x"


def test_run_guarded_turns_exception_into_fail():
    def boom():
        raise ConnectionError("connection refused by 127.0.0.1:1")

    r = run_guarded("ci", boom)
    assert r.status == "fail" and "ConnectionError" in r.reason and "refused" in r.reason
    assert failing([r, CheckResult("a", "warn", "w")]) == [r]


def test_format_table_aligns_and_cuts():
    table = format_table(
        [("a", "PASS", "short"), ("longer name", "FAIL", "x" * 50)],
        ("check", "status", "reason"),
        max_width=20,
    )
    lines = table.splitlines()
    assert lines[0].startswith("check       | status | reason")
    assert set(lines[1]) <= {"-", "+"}
    assert lines[3].startswith("longer name | FAIL   | " + "x" * 19 + "…")
    assert all(len(line) <= len(lines[1]) for line in lines)


def test_results_table_lists_skipped():
    table = results_table([CheckResult("ci", "fail", "run 1 failed")], [("backups", "gates.backups is null")])
    assert "ci      | FAIL   | run 1 failed" in table
    assert "backups | SKIP   | gates.backups is null" in table
