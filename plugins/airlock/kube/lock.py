"""The deploy lock: a coordination.k8s.io/v1 Lease `airlock-<service>` in the production namespace.

It keeps two Airflow installations (or two runs) from deploying the same service at once, using the
cluster both of them write to. The Lease holds `holderIdentity` (the run id), `acquireTime`,
`renewTime` and `leaseDurationSeconds`; it is free when it has no holder or renewTime +
leaseDurationSeconds is in the past (a crashed run cannot block deployments forever).

* acquire: create it if missing; take it if free or expired; if we already hold it, renew only when
  less than half of the TTL remains (so a retry writes nothing). If another live holder has it, fail
  at once naming the holder and when the lease expires; we do not wait, because a deployment that
  collides with another one should be re-planned by a human, not queued behind it.
* release: drop the holder only if we hold it; otherwise do nothing.
Writes use the Lease's resourceVersion (optimistic concurrency), so two racing acquirers cannot both win.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from airlock.kube.api import Kube, KubeError

Obj = dict[str, Any]


class LockHeld(RuntimeError):
    pass


@dataclass(frozen=True)
class LockState:
    """The deploy lock after an acquire or release (the lock tasks' XCom)."""

    lease: str
    holder: str | None  # who holds the lease now (None: free)
    expires: str | None  # ISO time the holder's lease expires unless renewed
    changed: bool  # whether this call wrote the Lease

    def held_by(self, holder: str) -> bool:
        return self.holder == holder

    def to_dict(self) -> Obj:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Obj) -> LockState:
        return cls(**data)


def lease_name(service: str) -> str:
    return f"airlock-{service}"


def _micro(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def lease_expiry(lease: Obj) -> datetime | None:
    spec = lease.get("spec") or {}
    renewed = _parse(spec.get("renewTime")) or _parse(spec.get("acquireTime"))
    if renewed is None:
        return None
    return renewed + timedelta(seconds=int(spec.get("leaseDurationSeconds") or 0))


def lease_holder(lease: Obj | None, now: datetime) -> str | None:
    """The live holder, or None when the lease is free or expired."""
    spec = (lease or {}).get("spec") or {}
    holder = spec.get("holderIdentity")
    expiry = lease_expiry(lease or {})
    if not holder or expiry is None or expiry <= now:
        return None
    return str(holder)


def acquire(
    kube: Kube, namespace: str, service: str, holder: str, ttl_seconds: int, now: datetime | None = None
) -> LockState:
    """Take the lock for `holder`; raises LockHeld naming the live holder."""
    name = lease_name(service)
    for _ in range(3):  # retry on a lost optimistic-concurrency race
        now = now or datetime.now(UTC)
        lease = kube.get("leases", namespace, name)
        current = lease_holder(lease, now)
        if current is not None and current != holder:
            raise LockHeld(
                f'deploy lock {namespace}/{name} is held by "{current}" until '
                f"{lease_expiry(lease or {}):%Y-%m-%d %H:%M:%S} UTC; another deployment of {service} is "
                "in progress. Wait for it to finish (or, if it is dead, for the lease to expire), then "
                "retry this run."
            )
        if current == holder:
            expiry = lease_expiry(lease or {})
            if expiry is not None and (expiry - now).total_seconds() > ttl_seconds / 2:
                kube.log.info(
                    "deploy lock %s already held by %s until %s; nothing to do", name, holder, expiry
                )
                return LockState(name, holder, expiry.isoformat(), changed=False)
        spec = {"holderIdentity": holder, "leaseDurationSeconds": int(ttl_seconds), "renewTime": _micro(now)}
        try:
            if lease is None:
                body = {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "airlock"}},
                    "spec": {**spec, "acquireTime": _micro(now), "leaseTransitions": 0},
                }
                kube.create("leases", namespace, body, what=f"(acquire deploy lock for {holder})")
            else:
                old = lease.get("spec") or {}
                new_spec: Obj = {**old, **spec}
                if old.get("holderIdentity") != holder:
                    new_spec["acquireTime"] = _micro(now)
                    new_spec["leaseTransitions"] = int(old.get("leaseTransitions") or 0) + 1
                body = {**lease, "spec": new_spec}
                kube.replace(
                    "leases", namespace, name, body, what=f"(acquire/renew deploy lock for {holder})"
                )
        except KubeError as exc:
            if exc.status == 409:
                now = None
                continue
            raise
        expires = now + timedelta(seconds=ttl_seconds)
        return LockState(name, holder, expires.isoformat(), changed=True)
    raise LockHeld(f"deploy lock {namespace}/{name}: lost the race to acquire it three times; retry")


def release(kube: Kube, namespace: str, service: str, holder: str) -> LockState:
    """Drop the holder if it is `holder` (changed=True); otherwise write nothing."""
    name = lease_name(service)
    lease = kube.get("leases", namespace, name)
    current = ((lease or {}).get("spec") or {}).get("holderIdentity")
    if lease is None or current != holder:
        kube.log.info(
            "deploy lock %s is not held by %s (holder: %s); nothing to release",
            name,
            holder,
            current or "nobody",
        )
        expiry = lease_expiry(lease) if lease is not None and current else None
        return LockState(name, current, expiry.isoformat() if expiry else None, changed=False)
    body = {
        **lease,
        "spec": {
            k: v
            for k, v in (lease.get("spec") or {}).items()
            if k not in ("holderIdentity", "renewTime", "acquireTime")
        },
    }
    kube.replace("leases", namespace, name, body, what=f"(release deploy lock held by {holder})")
    return LockState(name, None, None, changed=True)
