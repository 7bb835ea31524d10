"""The deploy lock: a coordination.k8s.io/v1 Lease `airlock-<service>` in the production namespace, fenced.

It keeps two Airflow installations (or two runs) from deploying the same service at once, using the
cluster both of them write to.

* Holder identity = `<installation id>/<run id>` (`holder_identity`). Run ids such as
  `scheduled__2026-03-03T02:00:00+00:00` are the same in every installation, so the installation id
  tells them apart: `AIRLOCK_INSTALLATION_ID` (environment) or Airflow config `[airlock]
  installation_id` when set, else a stable id derived from the metadata database URL (password
  removed) - the one thing every process of an installation shares (`installation_id`).
* The lease is short (`LEASE_SECONDS`, 5 minutes by default; `AIRLOCK_LOCK_LEASE_SECONDS`) and renewed
  while the run lives: before every production write (the fence below) and, while the run waits in
  the triggerer (rollout, migration, analysis), by the trigger (`keep_lease_async`). A run that dies
  stops renewing, and its lock frees itself within minutes.
* Fencing: every production write first checks that this run still holds the lease (`Fence`, called
  by `Kube.write`); if another holder took it, the write is refused with LockLost and nothing is sent.
  A lease of ours that expired while nobody took it is taken again (a task that waited long in the
  scheduler's queue must not fence itself out); the resourceVersion makes a racing taker win or lose
  cleanly.
* The decision is one pure function, `lease_decision(lease, holder, now, ttl)` -> hold / renew / take /
  lost / held-by-other, used by acquire, the sync fence and the async renewal alike.
* acquire: refuses while the service's line is stopped (stop_line.py); creates the Lease if missing;
  takes it if free or expired; renews it if we hold it and it is due. If another live holder has it,
  fail at once naming the holder and when its lease expires (a collision is re-planned by a human).
* release: drop the holder only if we hold it; if this run stopped the line, keep it held (see
  stop_line.py) and say so.
Writes carry the Lease's resourceVersion (optimistic concurrency), so two racing writers cannot both win.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from airlock.kube.api import Kube, KubeError, path
from airlock.stop_line import LineStopped, read_mark, refuse_if_stopped, stop_mark_path

Obj = dict[str, Any]

LEASE_SECONDS = 300  # short: a dead run's lock frees itself within minutes; live runs renew it
INSTALLATION_ENV = "AIRLOCK_INSTALLATION_ID"
LEASE_SECONDS_ENV = "AIRLOCK_LOCK_LEASE_SECONDS"
STOPPED_ANNOTATION = "airlock.io/line-stopped"

__all__ = ["LineStopped", "LockHeld", "LockLost"]


class LockHeld(RuntimeError):
    """Another live holder has the lock."""


class LockLost(RuntimeError):
    """Fenced: this run no longer holds the lock (expired, or taken by another holder); nothing was written."""


# -- identity ----------------------------------------------------------------------------------------


def installation_id(configured: str | None, database_url: str | None) -> str:
    """This Airflow installation's id: the configured one, else derived from the metadata DB URL.

    Every process of one installation (scheduler, workers, triggerer) reads the same database, so a
    hash of its URL is stable across them and differs between installations. The password is removed
    first (rotating it must not change the id). Neither given: "airflow" (one installation only; set
    AIRLOCK_INSTALLATION_ID when several share a cluster).
    """
    if configured and configured.strip():
        value = configured.strip()
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", value):
            raise ValueError(
                f"{INSTALLATION_ENV}={value!r} is not allowed: use 1-63 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        return value
    if database_url:
        without_password = re.sub(r"(://[^:/@]*):[^@]*@", r"\1@", database_url)
        return "airflow-" + hashlib.sha256(without_password.encode()).hexdigest()[:12]
    return "airflow"


def holder_identity(installation: str, run_id: str) -> str:
    return f"{installation}/{run_id}"


def lease_seconds(environ: dict[str, str] | None = None) -> int:
    """The lease TTL: AIRLOCK_LOCK_LEASE_SECONDS (15..3600) or LEASE_SECONDS."""
    raw = (environ if environ is not None else os.environ).get(LEASE_SECONDS_ENV, "")
    if not raw.strip():
        return LEASE_SECONDS
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 15 <= value <= 3600:
        raise ValueError(f"{LEASE_SECONDS_ENV}={raw!r} is not allowed: use whole seconds from 15 to 3600")
    return value


@dataclass(frozen=True)
class LeaseRef:
    """Which lease a run holds and how: what the fence and the triggers' renewal need (a typed seam)."""

    conn_id: str  # the production Kubernetes connection
    namespace: str
    service: str
    holder: str
    ttl_seconds: int

    @property
    def name(self) -> str:
        return lease_name(self.service)

    def to_dict(self) -> Obj:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Obj) -> LeaseRef:
        return cls(**data)


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


# -- the one decision ----------------------------------------------------------------------------------

LeaseAction = Literal["hold", "renew", "take", "lost", "held"]


@dataclass(frozen=True)
class LeaseDecision:
    """hold: ours, not due; renew: ours, less than half the TTL left, or ours and expired with nobody
    having taken it since; take: free or expired (acquire only); lost: someone else has it or had it
    (fenced); held: another live holder."""

    action: LeaseAction
    reason: str
    holder: str | None  # the live holder (None: free)
    expires: datetime | None


def lease_decision(
    lease: Obj | None, holder: str, now: datetime, ttl_seconds: int, *, acquiring: bool = False
) -> LeaseDecision:
    """What `holder` may do with the lease now (pure; see LeaseDecision)."""
    current = lease_holder(lease, now)
    expiry = lease_expiry(lease or {})
    recorded = ((lease or {}).get("spec") or {}).get("holderIdentity")
    if current == holder:
        left = (expiry - now).total_seconds() if expiry else 0.0
        if left > ttl_seconds / 2:
            return LeaseDecision("hold", f"held by {holder} for {left:.0f} s more", current, expiry)
        return LeaseDecision(
            "renew", f"held by {holder}, {left:.0f} s left of {ttl_seconds} s: renewing", current, expiry
        )
    if current is not None:
        until = f"{expiry:%Y-%m-%d %H:%M:%S} UTC" if expiry else "an unknown time"
        if acquiring:
            return LeaseDecision("held", f'held by "{current}" until {until}', current, expiry)
        return LeaseDecision(
            "lost",
            f'this run ({holder}) no longer holds it: "{current}" holds it until {until}',
            current,
            expiry,
        )
    if acquiring:
        return LeaseDecision(
            "take", "free" if not recorded else f"expired (last holder {recorded})", None, expiry
        )
    if recorded == holder:
        # Expired but nobody took it since: no other holder can have written in between (a writer must
        # take the lease first, which changes holderIdentity), so re-taking it is safe - and the write
        # carries the Lease's resourceVersion, so a taker racing us makes it fail with 409. Without this
        # a run whose next task waited longer than the lease in a busy scheduler's queue fenced itself out.
        when = f"at {expiry:%Y-%m-%d %H:%M:%S} UTC " if expiry else ""
        return LeaseDecision(
            "renew",
            f"this run's lease expired {when}without being renewed, and nobody has taken it since: taking it again",
            None,
            expiry,
        )
    return LeaseDecision(
        "lost", f"this run ({holder}) does not hold it (holder: {recorded or 'nobody'})", None, expiry
    )


def renewed_body(lease: Obj, holder: str, now: datetime, ttl_seconds: int) -> Obj:
    """The Lease as `holder` holding it from now for ttl (a transition when the holder changes)."""
    old = lease.get("spec") or {}
    spec: Obj = {
        **old,
        "holderIdentity": holder,
        "leaseDurationSeconds": int(ttl_seconds),
        "renewTime": _micro(now),
    }
    if old.get("holderIdentity") != holder:
        spec["acquireTime"] = _micro(now)
        spec["leaseTransitions"] = int(old.get("leaseTransitions") or 0) + 1
    return {**lease, "spec": spec}


def new_lease(service: str, holder: str, now: datetime, ttl_seconds: int) -> Obj:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": lease_name(service), "labels": {"app.kubernetes.io/managed-by": "airlock"}},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": int(ttl_seconds),
            "acquireTime": _micro(now),
            "renewTime": _micro(now),
            "leaseTransitions": 0,
        },
    }


# -- acquire / renew / release over the sync transport ------------------------------------------------


def acquire(
    kube: Kube, namespace: str, service: str, holder: str, ttl_seconds: int, now: datetime | None = None
) -> LockState:
    """Take the lock for `holder`; raises LineStopped while the line is stopped, LockHeld naming the
    live holder."""
    name = lease_name(service)
    refuse_if_stopped(kube, service, namespace)
    for _ in range(3):  # retry on a lost optimistic-concurrency race
        at = now or datetime.now(UTC)
        lease = kube.get("leases", namespace, name)
        decision = lease_decision(lease, holder, at, ttl_seconds, acquiring=True)
        if decision.action == "held":
            raise LockHeld(
                f"deploy lock {namespace}/{name} is {decision.reason}; another deployment of {service} is "
                "in progress. Wait for it to finish (or, if it is dead, for the lease to expire), then "
                "retry this run."
            )
        if decision.action == "hold":
            kube.log.info("deploy lock %s already %s; nothing to do", name, decision.reason)
            return LockState(name, holder, decision.expires.isoformat() if decision.expires else None, False)
        try:
            if lease is None:
                kube.create(
                    "leases",
                    namespace,
                    new_lease(service, holder, at, ttl_seconds),
                    what=f"(acquire deploy lock for {holder})",
                )
            else:
                kube.replace(
                    "leases",
                    namespace,
                    name,
                    renewed_body(lease, holder, at, ttl_seconds),
                    what=f"(acquire/renew deploy lock for {holder}: {decision.reason})",
                )
        except KubeError as exc:
            if exc.status == 409:
                continue
            raise
        return LockState(name, holder, (at + timedelta(seconds=ttl_seconds)).isoformat(), changed=True)
    raise LockHeld(f"deploy lock {namespace}/{name}: lost the race to acquire it three times; retry")


def renew_if_due(kube: Kube, ref: LeaseRef, now: datetime | None = None) -> LeaseDecision:
    """The fence's check: raise LockLost unless `ref.holder` holds the lease; renew it when due."""
    for _ in range(3):
        at = now or datetime.now(UTC)
        lease = kube.get("leases", ref.namespace, ref.name)
        decision = lease_decision(lease, ref.holder, at, ref.ttl_seconds)
        if decision.action == "lost":
            raise LockLost(fenced_message(ref, decision.reason))
        if decision.action == "hold" or lease is None:
            return decision
        try:
            kube.replace(
                "leases",
                ref.namespace,
                ref.name,
                renewed_body(lease, ref.holder, at, ref.ttl_seconds),
                what=f"(renew deploy lock for {ref.holder}: {decision.reason})",
            )
        except KubeError as exc:
            if exc.status == 409:  # someone wrote it meanwhile: read and decide again
                continue
            raise
        return decision
    raise LockLost(fenced_message(ref, "the lease changed under us three times in a row"))


def fenced_message(ref: LeaseRef, reason: str) -> str:
    return (
        f"FENCED: deploy lock {ref.namespace}/{ref.name}: {reason}. Nothing was written; another "
        f"deployment of {ref.service} may be running, so this run stops here. Look at production before "
        "starting another run."
    )


class Fence:
    """Called by `Kube.write` before every write: the run must still hold its lease (renewed if due).

    Writes to the lease itself and to the stop-the-line mark are not fenced (they manage the lock).
    """

    def __init__(self, ref: LeaseRef, clock: Any = None) -> None:
        self.ref = ref
        self.clock = clock or (lambda: datetime.now(UTC))
        self._exempt = {path("leases", ref.namespace, ref.name), stop_mark_path(ref.service, ref.namespace)}

    def __call__(self, kube: Kube, method: str, url: str) -> None:
        if url in self._exempt or url.startswith(path("leases", self.ref.namespace) + "?"):
            return
        if method == "POST" and url == path("leases", self.ref.namespace):
            return
        renew_if_due(kube, self.ref, self.clock())


async def keep_lease_async(kube: Any, ref: LeaseRef, now: datetime | None = None) -> LeaseDecision:
    """`renew_if_due` over the async transport (AsyncKube), for a run waiting in the triggerer.

    Returns the decision; "lost" is returned, not raised (the trigger logs it and the next write is fenced).
    """
    for _ in range(3):
        at = now or datetime.now(UTC)
        lease = await kube.get("leases", ref.namespace, ref.name)
        decision = lease_decision(lease, ref.holder, at, ref.ttl_seconds)
        if decision.action != "renew" or lease is None:
            return decision
        try:
            await kube.replace(
                "leases", ref.namespace, ref.name, renewed_body(lease, ref.holder, at, ref.ttl_seconds)
            )
        except KubeError as exc:
            if exc.status == 409:
                continue
            raise
        return decision
    return LeaseDecision("lost", "the lease changed under us three times in a row", None, None)


def release(kube: Kube, namespace: str, service: str, holder: str) -> LockState:
    """Drop the holder if it is `holder` (changed=True); otherwise write nothing.

    If the line is stopped by this very run, the lease is kept (annotated, left to expire): see stop_line.py.
    """
    name = lease_name(service)
    lease = kube.get("leases", namespace, name)
    current = ((lease or {}).get("spec") or {}).get("holderIdentity")
    expiry = lease_expiry(lease) if lease is not None and current else None
    if lease is None or current != holder:
        kube.log.info(
            "deploy lock %s is not held by %s (holder: %s); nothing to release",
            name,
            holder,
            current or "nobody",
        )
        return LockState(name, current, expiry.isoformat() if expiry else None, changed=False)
    mark = read_mark(kube, service, namespace)
    if mark is not None and holder.endswith("/" + mark.run_id):
        kube.log.error(
            "NOT releasing deploy lock %s: this run stopped the line (%s). The lease stays with %s until it "
            "expires; new runs are refused by configmap %s until a human clears it (`%s`).",
            name,
            mark.reason,
            holder,
            "airlock-stop-" + service,
            mark.clear_command(),
        )
        annotations = ((lease.get("metadata") or {}).get("annotations")) or {}
        if annotations.get(STOPPED_ANNOTATION) != mark.run_id:
            body = {
                **lease,
                "metadata": {
                    **(lease.get("metadata") or {}),
                    "annotations": {**annotations, STOPPED_ANNOTATION: mark.run_id},
                },
            }
            kube.replace("leases", namespace, name, body, what="(mark deploy lock: line stopped)")
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
