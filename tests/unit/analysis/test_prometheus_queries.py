"""Query templates, selectors per phase, and parsing of /api/v1/query answers."""

from __future__ import annotations

import json

import pytest

from airlock.analysis import queries
from airlock.analysis.plan import GatePlan
from airlock.analysis.prometheus import PrometheusError, parse_query_response, query_params
from airlock.spec import parse_spec

SPEC = parse_spec({"service": "payment-service", "image": "registry.example.com/payments/payment-service"})


def _vector(*values: str) -> dict:
    return {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1.0, v]} for v in values]},
    }


def test_parse_vector_scalar_and_no_data():
    assert parse_query_response(200, _vector("12.5"), "q") == 12.5
    assert parse_query_response(200, _vector("1", "2"), "q") == 3.0  # several series are summed
    assert parse_query_response(200, _vector(), "q") is None  # empty vector = no data
    assert parse_query_response(200, _vector("NaN"), "q") is None  # histogram_quantile of nothing
    scalar = {"status": "success", "data": {"resultType": "scalar", "result": [1.0, "7"]}}
    assert parse_query_response(200, scalar, "q") == 7.0


def test_parse_errors_name_the_query():
    bad = {"status": "error", "errorType": "bad_data", "error": "parse error at char 5"}
    with pytest.raises(PrometheusError, match=r"HTTP 400 for 'sum\(x': bad_data: parse error at char 5"):
        parse_query_response(400, bad, "sum(x")
    with pytest.raises(PrometheusError, match="not a JSON object"):
        parse_query_response(502, "Bad Gateway", "q")
    matrix = {"status": "success", "data": {"resultType": "matrix", "result": []}}
    with pytest.raises(PrometheusError, match="instant vector or scalar"):
        parse_query_response(200, matrix, "q")


def test_query_params_evaluate_at_a_time():
    assert query_params("up", 1700000000.5, 10) == {"query": "up", "time": "1700000000.500", "timeout": "10s"}
    assert query_params("up") == {"query": "up"}


def test_canary_plan_selects_tracks_and_counts_since_the_step_started():
    plan = GatePlan.from_spec(SPEC, version="1.4.0", phase="canary", started_at=1000.0, weight=10)
    assert plan.duration_s == 900 and plan.interval_s == 60 and plan.connection == "prometheus_default"
    by_key = {(q.track, q.metric): q for q in plan.queries_at(1300.0)}
    errors = (
        'http_requests_total{namespace="production",service="payment-service",track="canary",code=~"5.."}'
    )
    # now minus the step start, per series; series born in the step (a pod's first 5xx) count from zero
    assert by_key["canary", "errors"].promql == (
        f"(sum({errors} unless {errors} offset 300s) or vector(0))"
        f" + (sum(clamp_min({errors} - {errors} offset 300s, 0)) or vector(0))"
    )
    assert 'track!="canary"' in by_key["baseline", "requests"].promql
    assert by_key["baseline", "p99"].promql.startswith("histogram_quantile(0.99, sum by (le) (increase(")
    assert all(q.at is None for q in by_key.values())


def test_validation_plan_compares_with_the_previous_version_before_the_deploy():
    plan = GatePlan.from_spec(
        SPEC,
        version="1.4.0",
        phase="validation",
        started_at=5000.0,
        baseline_version="1.3.2",
        baseline_end=4000.0,
    )
    by_key = {(q.track, q.metric): q for q in plan.queries_at(5120.0)}
    assert by_key["canary", "requests"].promql.endswith('version="1.4.0"} offset 120s, 0)) or vector(0))')
    assert by_key["canary", "requests"].at is None
    base = by_key["baseline", "requests"]
    assert base.promql.endswith('version="1.3.2"} offset 900s, 0)) or vector(0))')  # equally long window
    assert base.at == 4000.0  # ... ending when the deployment started


def test_staging_plan_defaults_to_the_soak_time_and_staging_namespace():
    plan = GatePlan.from_spec(SPEC, version="1.4.0", phase="staging", started_at=0.0, environment="staging")
    assert plan.duration_s == SPEC.staging.soak.total_seconds()
    assert 'namespace="staging"' in plan.selector("canary")


def test_query_overrides_by_metric_name_and_unknown_names_rejected():
    spec = parse_spec(
        {
            "service": "payment-service",
            "image": "registry.example.com/payments/payment-service",
            "metrics": {
                "queries": {
                    "cpu": 'sum(rate(cpu_seconds{namespace="{namespace}",app="{service}"}[{window}]))'
                }
            },
        }
    )
    plan = GatePlan.from_spec(spec, version="1.4.0", phase="canary", started_at=0.0)
    cpu = next(q for q in plan.queries_at(60.0) if q.metric == "cpu" and q.track == "canary")
    assert cpu.promql == 'sum(rate(cpu_seconds{namespace="production",app="payment-service"}[60s]))'
    with pytest.raises(ValueError, match="unknown metric name.*error_rat.*allowed: requests, errors"):
        queries.query_templates({"error_rat": "x"})


def test_samples_treat_missing_error_series_as_zero_errors():
    samples = GatePlan.samples(
        {("canary", "requests"): 120.0, ("baseline", "requests"): 1080.0, ("baseline", "errors"): 4.0}
    )
    assert samples.canary.errors == 0.0 and samples.canary.requests == 120.0
    assert samples.baseline.errors == 4.0
    assert samples.canary.cpu is None


def test_plan_round_trips_through_json():
    plan = GatePlan.from_spec(SPEC, version="1.4.0", phase="canary", started_at=10.0, weight=25)
    assert GatePlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan
