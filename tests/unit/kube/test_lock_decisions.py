"""The deploy lock's pure decisions: holder identity, lease TTL, hold / renew / take / lost / held."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airlock.kube.lock import (
    holder_identity,
    installation_id,
    lease_decision,
    lease_seconds,
    new_lease,
    renewed_body,
)

NOW = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
ME = "inst-a/scheduled__2026-03-03T02:00:00+00:00"
TWIN = "inst-b/scheduled__2026-03-03T02:00:00+00:00"  # same run id, other installation


def lease(holder: str | None, renewed: datetime, ttl: int = 300) -> dict:
    spec: dict = {"leaseDurationSeconds": ttl, "renewTime": renewed.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    if holder:
        spec["holderIdentity"] = holder
    return {"metadata": {"name": "airlock-web", "resourceVersion": "7"}, "spec": spec}


def test_installation_id_configured_wins_and_is_validated():
    assert installation_id("  prod-eu-1 ", "postgresql://a:b@db/airflow") == "prod-eu-1"
    with pytest.raises(ValueError, match=r"AIRLOCK_INSTALLATION_ID='bad id/x' is not allowed: use 1-63"):
        installation_id("bad id/x", None)


def test_installation_id_from_the_database_url_ignores_the_password():
    a = installation_id(None, "postgresql+psycopg2://airflow:secret1@db-a:5432/airflow")
    assert a == installation_id(None, "postgresql+psycopg2://airflow:rotated@db-a:5432/airflow")
    assert a != installation_id(None, "postgresql+psycopg2://airflow:secret1@db-b:5432/airflow")
    assert a.startswith("airflow-") and "secret1" not in a
    assert installation_id(None, None) == "airflow"


def test_the_same_run_id_in_two_installations_is_two_holders():
    run = "scheduled__2026-03-03T02:00:00+00:00"
    assert holder_identity("inst-a", run) != holder_identity("inst-b", run)
    decision = lease_decision(lease(ME, NOW), TWIN, NOW, 300, acquiring=True)
    assert decision.action == "held" and ME in decision.reason


def test_lease_seconds_from_the_environment_bounded():
    assert lease_seconds({}) == 300
    assert lease_seconds({"AIRLOCK_LOCK_LEASE_SECONDS": "60"}) == 60
    with pytest.raises(ValueError, match=r"AIRLOCK_LOCK_LEASE_SECONDS='5' is not allowed: use whole seconds"):
        lease_seconds({"AIRLOCK_LOCK_LEASE_SECONDS": "5"})


@pytest.mark.parametrize(
    ("age", "action"),
    [(0, "hold"), (149, "hold"), (151, "renew"), (299, "renew"), (301, "renew"), (4000, "renew")],
)
def test_a_holder_renews_in_the_second_half_and_retakes_its_own_expired_lease(age, action):
    decision = lease_decision(lease(ME, NOW - timedelta(seconds=age)), ME, NOW, 300)
    assert decision.action == action, decision
    if age > 300:
        assert "expired" in decision.reason and "nobody has taken it since" in decision.reason


def test_an_expired_lease_someone_else_took_since_fences_us():
    # we held it, it expired, another run took it and let it expire too: we are still fenced out
    taken = lease(TWIN, NOW - timedelta(seconds=400))
    decision = lease_decision(taken, ME, NOW, 300)
    assert decision.action == "lost" and TWIN in decision.reason


def test_another_live_holder_fences_us_and_blocks_acquire():
    other = lease(TWIN, NOW - timedelta(seconds=10))
    lost = lease_decision(other, ME, NOW, 300)
    assert lost.action == "lost" and f'"{TWIN}" holds it until' in lost.reason
    assert lease_decision(other, ME, NOW, 300, acquiring=True).action == "held"


def test_a_free_or_expired_lease_is_taken_only_by_acquire():
    expired = lease(TWIN, NOW - timedelta(seconds=400))
    assert lease_decision(expired, ME, NOW, 300, acquiring=True).action == "take"
    assert lease_decision(None, ME, NOW, 300, acquiring=True).action == "take"
    assert lease_decision(None, ME, NOW, 300).action == "lost"  # no lease: we do not hold it
    assert lease_decision(lease(None, NOW), ME, NOW, 300).action == "lost"


def test_renewed_body_counts_transitions_and_keeps_the_resource_version():
    taken = renewed_body(lease(TWIN, NOW - timedelta(seconds=400)), ME, NOW, 300)
    assert taken["spec"]["holderIdentity"] == ME and taken["spec"]["leaseTransitions"] == 1
    assert taken["metadata"]["resourceVersion"] == "7", "optimistic concurrency: the PUT carries it"
    renewed = renewed_body(taken, ME, NOW + timedelta(seconds=200), 300)
    assert renewed["spec"]["leaseTransitions"] == 1, "a renewal is not a transition"
    assert renewed["spec"]["acquireTime"] == taken["spec"]["acquireTime"]
    assert renewed["spec"]["renewTime"] != taken["spec"]["renewTime"]
    assert new_lease("web", ME, NOW, 300)["spec"]["leaseTransitions"] == 0
