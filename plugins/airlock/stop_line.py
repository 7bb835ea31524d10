"""Stop the line: a service whose rollback failed needs a human before anything deploys it again.

When a rollback fails, is refused (irreversible migration), runs out of its deadline, or ends with
production not matching the recorded plan, Airlock writes the ConfigMap `airlock-stop-<service>` in the
production namespace. It says which run stopped the line, when, why, and how to clear it; it is visible
with `kubectl -n <ns> get configmap airlock-stop-<service> -o yaml`. While it exists:

* `validate` and `acquire_lock` of every new run (of any Airflow installation: the mark is on the
  cluster they share) refuse to start, naming the failed run and the clearing command;
* the failed run's deploy lock is NOT released by its teardown (the Lease keeps the failed run as
  holder, annotated `airlock.io/line-stopped`, and simply expires after its short TTL): releasing it
  would say "all is fine" to anyone reading the Lease. The mark, not the Lease, is what blocks.

Clearing is a human decision, made after production has been put right by hand:
`kubectl -n <ns> delete configmap airlock-stop-<service>`. Nothing in Airlock deletes the mark.

Pure helpers (names, the mark's body, reading it back, the refusal sentence) plus the two cluster
operations over the sync transport (`read_mark`, `stop_the_line`). The mark is written unfenced: a run
that lost its lock is exactly a run whose production state a human must look at.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from airlock.kube.api import Kube, KubeError, path

Obj = dict[str, Any]

STOP_LABEL = "airlock.io/stop-the-line"
MANAGED_BY = {"app.kubernetes.io/managed-by": "airlock"}


class LineStopped(RuntimeError):
    """A new run refused: the service's line is stopped by an earlier failed rollback."""


@dataclass(frozen=True)
class StopMark:
    """Why a service's line is stopped (the ConfigMap's data)."""

    service: str
    namespace: str
    run_id: str  # the run whose rollback failed
    reason: str
    stopped_at: str  # ISO time

    def to_dict(self) -> Obj:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Obj) -> StopMark:
        return cls(**data)

    def clear_command(self) -> str:
        return f"kubectl -n {self.namespace} delete configmap {stop_mark_name(self.service)}"

    def refusal(self) -> str:
        """The sentence a new run fails with."""
        return (
            f"the line is stopped for {self.service}: the rollback of run {self.run_id} failed at "
            f"{self.stopped_at} ({self.reason}). Production may not match any recorded state, so no new "
            f"deployment starts until a human has checked it and cleared the mark with `{self.clear_command()}`"
        )


def stop_mark_name(service: str) -> str:
    return f"airlock-stop-{service}"


def stop_mark_path(service: str, namespace: str) -> str:
    return path("configmaps", namespace, stop_mark_name(service))


def mark_body(mark: StopMark) -> Obj:
    """The ConfigMap that stops the line (its data is plain text a person reads with kubectl)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": stop_mark_name(mark.service),
            "namespace": mark.namespace,
            "labels": {**MANAGED_BY, STOP_LABEL: "true"},
            "annotations": {"airlock.io/failed-run": mark.run_id},
        },
        "data": {
            "service": mark.service,
            "failed_run": mark.run_id,
            "reason": mark.reason,
            "stopped_at": mark.stopped_at,
            "to_clear": (
                "Check production by hand (images, Service selector, canary, colours), put it right, "
                f"then run: {mark.clear_command()}"
            ),
        },
    }


def mark_from(config_map: Obj | None, service: str, namespace: str) -> StopMark | None:
    """The stop mark a ConfigMap stands for (None when there is none)."""
    if config_map is None:
        return None
    data = config_map.get("data") or {}
    return StopMark(
        service=service,
        namespace=namespace,
        run_id=str(data.get("failed_run") or "unknown run"),
        reason=str(data.get("reason") or "no reason recorded"),
        stopped_at=str(data.get("stopped_at") or "an unknown time"),
    )


def read_mark(kube: Kube, service: str, namespace: str) -> StopMark | None:
    return mark_from(kube.get("configmaps", namespace, stop_mark_name(service)), service, namespace)


def refuse_if_stopped(kube: Kube, service: str, namespace: str) -> None:
    """Raise LineStopped (naming the failed run and how to clear) when the line is stopped."""
    mark = read_mark(kube, service, namespace)
    if mark is not None:
        raise LineStopped(mark.refusal()[:1].upper() + mark.refusal()[1:] + ".")


def stop_the_line(
    kube: Kube, service: str, namespace: str, run_id: str, reason: str, now: datetime | None = None
) -> tuple[StopMark, bool]:
    """Write the mark; returns it and whether this call wrote it (an existing mark, this run's or an
    earlier run's, is kept as it is: the first reason is the one a human needs)."""
    existing = read_mark(kube, service, namespace)
    if existing is not None:
        kube.log.warning("the line is already stopped for %s by run %s", service, existing.run_id)
        return existing, False
    mark = StopMark(
        service=service,
        namespace=namespace,
        run_id=run_id,
        reason=reason,
        stopped_at=(now or datetime.now(UTC)).isoformat(timespec="seconds"),
    )
    kube.log.error(
        "STOPPING THE LINE for %s: %s. Writing configmap %s/%s; new runs refuse to start until a human "
        "clears it with `%s`.",
        service,
        reason,
        namespace,
        stop_mark_name(service),
        mark.clear_command(),
    )
    try:
        kube.create("configmaps", namespace, mark_body(mark), what="(stop the line)")
    except KubeError as exc:
        if exc.status != 409:
            raise
        return read_mark(kube, service, namespace) or mark, False
    return mark, True
