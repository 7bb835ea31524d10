"""The trigger form: one Param per run parameter, constrained by the service spec."""

from __future__ import annotations

from airflow.sdk import Param

from airlock.spec import ServiceSpec

STRATEGY_LABELS = {
    "canary": "Canary (traffic steps with metric analysis)",
    "blue_green": "Blue-green (verify green, then switch)",
    "rolling": "Rolling update",
}


def release_train_variable(spec: ServiceSpec) -> str:
    return f"airlock_release_train_{spec.service}"


def deploy_params(spec: ServiceSpec) -> dict[str, Param]:
    steps = ",".join(str(s) for s in spec.strategy.canary.steps)
    if spec.windows.release_train:
        # Scheduled trains carry no conf: the version comes from the release-train queue (a Variable
        # CI sets), so the param may be empty - Airflow refuses a schedule with a required param.
        version = Param(
            None,
            type=["null", "string"],
            title="Version",
            description=(
                f"Image tag to deploy ({spec.image}:<version>). Empty on scheduled release-train runs: "
                f"they deploy the version queued in the Airflow Variable {release_train_variable(spec)}."
            ),
            pattern=spec.version_pattern,
            examples=["v1.2.3"],
            section="Release",
        )
    else:
        version = Param(
            # Required: the schema is a plain string, so a run without a version is refused when it is
            # triggered (REST 400 / the form's required field naming `version`) and the validate task
            # refuses it too. The default is None rather than "no default" only because of Airflow
            # 3.3.2's triggerer: for a task that starts in the triggerer it merges the serialized params
            # twice (process_params), and a param with no default fails the second merge ("No value
            # passed and Param has no default value") before the run's conf is applied - which kills the
            # trigger runner and every trigger of the installation. None passes that merge; the conf then
            # sets the value. An unscheduled DAG does not validate its defaults at parse time.
            None,
            type="string",
            title="Version",
            description=f"Required. Image tag to deploy ({spec.image}:<version>).",
            pattern=spec.version_pattern,
            examples=["v1.2.3"],
            section="Release",
        )
    return {
        "version": version,
        "strategy": Param(
            spec.strategy.default,
            type="string",
            title="Strategy",
            enum=list(spec.strategy.allowed),
            values_display={k: STRATEGY_LABELS[k] for k in spec.strategy.allowed},
            section="Release",
        ),
        "change_summary": Param(
            "",
            type="string",
            title="Change summary",
            description="What changes, for the Slack announcement and the deployment record.",
            section="Release",
        ),
        "risk": Param(
            "planned",
            type="string",
            title="Risk",
            enum=["planned", "hotfix"],
            values_display={
                "planned": "Planned release",
                "hotfix": "Hotfix (skips the staging soak, never pre-flight; recorded)",
            },
            section="Release",
        ),
        "window": Param(
            "next_window",
            type="string",
            title="When",
            enum=["next_window", "now"],
            values_display={
                "next_window": "Wait for the next off-peak window",
                "now": "Now (change freezes still apply)",
            },
            section="Schedule",
        ),
        "canary_steps": Param(
            "",
            type=["null", "string"],
            title="Canary steps override",
            description=f"Comma-separated traffic percentages ending at 100; empty = the spec's {steps}.",
            pattern=r"^$|^\s*\d{1,3}(\s*,\s*\d{1,3})*\s*$",
            section="Schedule",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Plan only: log exactly what would change, write nothing.",
            section="Schedule",
        ),
    }
