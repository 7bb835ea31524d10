"""Slack message builders: content a person needs, Block Kit limits respected."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airlock.notify import (
    estimate_duration,
    failure_message,
    rollback_message,
    start_message,
    stopped_message,
    success_message,
)
from airlock.spec import parse_spec


def _spec(**extra: Any) -> Any:
    return parse_spec(
        {
            "service": "checkout",
            "image": "registry.local/checkout",
            "owners": ["@payments-team", "alice"],
            "metrics": {"dashboard": "https://grafana.example/d/checkout", "validation_window": "15m"},
            "staging": {"soak": "10m"},
            "strategy": {"canary": {"steps": [10, 50, 100], "step_duration": "5m"}},
            **extra,
        }
    )


def _record(outcome: str, **extra: Any) -> dict[str, Any]:
    verdict = {
        "decision": "fail" if outcome != "succeeded" else "pass",
        "metrics": [
            {
                "name": "error_rate",
                "status": "fail" if outcome != "succeeded" else "pass",
                "canary": 0.079 if outcome != "succeeded" else 0.002,
                "baseline": 0.004,
                "threshold": 0.05,
                "unit": "%",
            },
            {"name": "latency_p95", "status": "pass", "canary": 0.2, "baseline": 0.19, "threshold": 1.5, "unit": "s",
             "threshold_unit": "x"},
        ],
    }  # fmt: skip
    return {
        "service": "checkout",
        "version": "v1.4.0",
        "previous_version": "v1.3.2",
        "strategy": "canary",
        "risk": "planned",
        "dry_run": False,
        "outcome": outcome,
        "reason": "canary_25_metrics failed: error rate 7.9% > 5%" if outcome != "succeeded" else None,
        "run_id": "manual__1",
        "checks": {"preflight": [], "health": None, "smoke": None, "log_scan": None,
                   "metrics": {"canary_25_metrics": verdict}},
        "tasks": {"canary_25_metrics": "failed" if outcome != "succeeded" else "success"},
        "timings": {"duration_s": 1390.0, "phases": {}},
        **extra,
    }  # fmt: skip


def test_eta_adds_soak_steps_and_validation() -> None:
    spec = _spec()
    assert estimate_duration(spec, "canary", None, hotfix=False) == timedelta(minutes=10 + 15 + 15)
    assert estimate_duration(spec, "canary", [50, 100], hotfix=True) == timedelta(minutes=10 + 15)
    assert estimate_duration(spec, "rolling", None, hotfix=False) == timedelta(minutes=25)


def test_start_message_has_what_the_team_needs() -> None:
    msg = start_message(
        _spec(), version="v1.4.0", strategy="canary", change_summary="Retry payments once", run_id="manual__1"
    )
    assert (
        msg["text"]
        == "Deploying checkout v1.4.0 (canary 10%/50%/100%), ETA ~40m. Changes: Retry payments once"
    )
    blocks = str(msg["blocks"])
    for needle in (
        "@payments-team, alice",
        "https://grafana.example/d/checkout",
        "manual__1",
        "*Risk*\\nplanned",
    ):
        assert needle in blocks
    assert msg["blocks"][0]["type"] == "header"


def test_start_message_flags_hotfix_and_dry_run() -> None:
    msg = start_message(_spec(), version="v1.4.1", strategy="rolling", risk="hotfix", dry_run=True)
    assert msg["text"].startswith("[DRY RUN] Deploying checkout v1.4.1 HOTFIX (rolling), ETA ~15m")
    assert "staging soak skipped" in str(msg["blocks"])


def test_rollback_message_names_gate_numbers_and_evidence() -> None:
    rollback = {
        "healthy": True,
        "noop": False,
        "actions": ["deleted canary checkout-canary"],
        "evidence": {
            "pods": [{"name": "checkout-canary-7d9", "phase": "Running", "restarts": 4}],
            "events": ["BackOff: Back-off restarting failed container"],
        },
    }
    msg = rollback_message(_record("rolled_back", rollback=rollback), "https://grafana.example/d/checkout")
    assert msg["text"].startswith("⏪ checkout v1.4.0 rolled back to v1.3.2: canary_25_metrics failed")
    assert "production restored and healthy" in msg["text"]
    body = str(msg["blocks"])
    assert "canary_25_metrics: error_rate fail: canary 7.90 % vs baseline 0.40 % (limit 5.00 %)" in body
    assert "name=checkout-canary-7d9, phase=Running, restarts=4" in body
    assert "Back-off restarting" in body and "deleted canary checkout-canary" in body
    assert "*Gate*\\ncanary_25_metrics" in body


def test_unhealthy_rollback_is_loud() -> None:
    msg = rollback_message(_record("failed", rollback={"healthy": False, "noop": False}))
    assert msg["text"].startswith("🔥") and "NOT healthy after rollback - act now" in msg["text"]


def test_success_message_summarises_metrics() -> None:
    msg = success_message(_record("succeeded"))
    assert msg["text"] == "✅ checkout v1.4.0 deployed (canary) in 23m10s."
    body = str(msg["blocks"])
    assert "error_rate pass: canary 0.20 % vs baseline 0.40 % (limit 5.00 %)" in body
    assert "latency_p95 pass: canary 200 ms vs baseline 190 ms (limit 1.50x)" in body
    assert "v1.3.2 → v1.4.0" in body


def test_failure_message_and_block_limits() -> None:
    msg = failure_message(
        service="checkout",
        dag_id="deploy_checkout",
        task_id="promote",
        run_id="r1",
        error="boom\n" + "x" * 5000,
    )
    assert msg["text"].startswith("❌ checkout: task promote failed in deploy_checkout run r1: boom")
    for block in msg["blocks"]:
        for field in block.get("fields", []):
            assert len(field["text"]) <= 2000
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000


def test_stopped_message_says_where_and_that_production_is_untouched() -> None:
    record = {
        "service": "checkout",
        "version": "v1.4.0",
        "outcome": "failed",
        "stopped_in": "staging",
        "production_changed": False,
        "reason": "task staging.soak failed: staging gate failed: error rate 7.9 %",
        "run_id": "r1",
    }
    message = stopped_message(record, "https://grafana.example/d/checkout")
    assert message["text"] == (
        "✋ checkout v1.4.0 stopped in staging before production: task staging.soak failed: staging gate "
        "failed: error rate 7.9 % (production untouched)"
    )
    assert "rolled back" not in str(message).lower() and "→ ?" not in str(message)
    assert "untouched" in str(message["blocks"])
    lock = stopped_message({**record, "stopped_in": "acquire_lock", "reason": "held"})
    assert lock["text"].startswith("✋ checkout v1.4.0 stopped at the deploy lock before production")
