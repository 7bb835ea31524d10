"""RunRequest: the one input of every task of a run, built once by the `validate` task.

The trigger form, the REST conf and a release train's queue all end here: `build_run_request` checks the
whole conf against the service spec (airlock.request) and resolves what later tasks would otherwise
re-derive - the version (a scheduled release-train run has none in its params), the full image
reference, the effective canary steps. Every later task receives this object (as its dict in XCom)
and never reads `params`: a scheduled run once rendered the empty version param (None) into every
task and deployed `<image>:None`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from airlock.request import DeployRequest, canary_steps, validate_request
from airlock.spec import ServiceSpec, SpecError

Strategy = Literal["canary", "blue_green", "rolling"]
Risk = Literal["planned", "hotfix"]
WindowMode = Literal["now", "next_window"]
Source = Literal["manual", "release_train"]


class NothingQueued(Exception):
    """A release-train run found no version queued: the train leaves empty (not a failure)."""


@dataclass(frozen=True)
class RunRequest:
    """What this run deploys, how, and on whose behalf. Built only by `build_run_request`."""

    service: str
    version: str
    image: str  # the full reference deployed: <spec.image>:<version>
    strategy: Strategy
    canary_steps: tuple[int, ...]  # effective steps ending at 100; () unless strategy is canary
    window: WindowMode
    risk: Risk
    dry_run: bool
    change_summary: str
    triggered_by: str  # a user name, or "release train" / the run type for scheduled runs
    source: Source
    run_id: str

    @property
    def is_hotfix(self) -> bool:
        return self.risk == "hotfix"

    @property
    def canary_weights(self) -> tuple[int, ...]:
        """The traffic weights of the canary steps; the final 100 % is reached by promotion, not a step."""
        return self.canary_steps[:-1]

    def canary_weight(self, slot: int) -> int | None:
        """Weight of canary step `slot` (0-based), or None when this run uses fewer steps."""
        weights = self.canary_weights
        return weights[slot] if 0 <= slot < len(weights) else None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["canary_steps"] = list(self.canary_steps)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRequest:
        if not isinstance(data, dict):
            raise TypeError(
                f"a RunRequest is read from a dict (the validate task's XCom), got {type(data).__name__}"
            )
        names = {f.name for f in fields(cls)}
        missing = sorted(names - set(data))
        if missing:
            raise ValueError(f"RunRequest is missing {missing}; was it produced by this version of Airlock?")
        values = {k: data[k] for k in names}
        values["canary_steps"] = tuple(int(s) for s in values["canary_steps"])
        return cls(**values)

    def describe(self) -> str:
        """One sentence for the task log."""
        steps = f" (steps {list(self.canary_steps)} %)" if self.canary_steps else ""
        return (
            f"deploy {self.image} with strategy {self.strategy}{steps}, window={self.window}, risk={self.risk}"
            f"{' - DRY RUN, nothing will be written' if self.dry_run else ''}; requested by {self.triggered_by}"
            f"{' (release train)' if self.source == 'release_train' else ''}"
        )


# Conf values that mean "not given": the form sends "" for an empty optional field and null for none.
_EMPTY = (None, "")


def build_run_request(
    conf: dict[str, Any] | None,
    spec: ServiceSpec,
    *,
    run_id: str,
    triggered_by: str,
    release_train: bool = False,
    queued_version: str | None = None,
) -> RunRequest:
    """Validate a run's conf against the spec and resolve it into the run's RunRequest.

    `release_train`: a scheduled run of a service with `windows.release_train`; it deploys
    `queued_version` (what CI queued) unless the conf names a version. Raises SpecError naming every bad
    field, or NothingQueued when a release-train run has no version to deploy.
    """
    given = {k: v for k, v in (conf or {}).items() if not (k in ("canary_steps", "version") and v in _EMPTY)}
    source: Source = "manual"
    if "version" not in given and release_train:
        if queued_version in _EMPTY:
            raise NothingQueued(f"release train for {spec.service}: no version is queued; nothing to deploy")
        given["version"] = queued_version
        source = "release_train"
    elif "version" not in given:
        raise SpecError(
            f"run parameters for {spec.dag_id}: 1 problem(s), nothing was changed\n"
            "  - field 'version': value (missing): required; the image tag to deploy, e.g. v1.2.3"
        )
    validated: DeployRequest = validate_request(given, spec)
    steps = tuple(canary_steps(validated, spec)) if validated.strategy == "canary" else ()
    return RunRequest(
        service=spec.service,
        version=validated.version,
        image=spec.image_ref(validated.version),
        strategy=validated.strategy,
        canary_steps=steps,
        window=validated.window,
        risk=validated.risk,
        dry_run=validated.dry_run,
        change_summary=validated.change_summary,
        triggered_by=triggered_by,
        source=source,
        run_id=run_id,
    )
