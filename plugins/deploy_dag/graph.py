"""The task graph of `deploy_<service>`: the seed workflow as dependencies, one small builder per phase.

validate -> window gate -> lock -> pre-flight checks -> staging (deploy, health, smoke, soak)
  -> [approval before production] (approvals.before_production)
  -> production (rollback plan, migration, branch: rolling | blue-green | canary steps + analysis
     [+ approval before the canary's last step] + promote)
  -> validation (health with version, smoke, metrics window, log scan)
  -> complete (old colour cleanup, mark deployed) -> record -> announce -> release lock; outcome
A rollback task (trigger rule one_failed) watches every production and validation task; the lock is
released by a teardown whatever happens.

Each phase builder returns a `Phase`: the tasks the previous phase leads into (`entry`), the tasks the
next phase follows (`exits`) and the deployment-record fields its tasks fill (`record`, field -> task
ids). Task ids are written once, where the task is created; everything else refers to the task.
Every task acts on the run's RunRequest (the validate task's XCom), never on `params`.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import DAG, Asset, TaskGroup, TriggerRule, cross_downstream
from airflow.sdk.definitions._internal.types import is_arg_set
from airflow.sdk.definitions.param import ParamsDict
from airflow.sdk.exceptions import ParamValidationError

from airlock.spec import ServiceSpec, spec_to_dict
from airlock.timeouts import TaskTimeouts, task_timeouts
from deploy_dag.dag_class import AirlockDAG
from deploy_dag.followup import FOLLOW_UP_ASSET
from deploy_dag.guards import only_for_strategy, skip_for_hotfix_or_dry_run, skip_in_dry_run
from deploy_dag.params import deploy_params
from deploy_dag.run_tasks import ChooseStrategyOperator, MarkDeployedOperator, RunOutcomeOperator
from deploy_dag.trigger_start import start_gates_in_triggerer
from notifiers.slack import TaskFailureNotifier, overdue_deadline
from operators.app_checks import HealthCheckOperator, SmokeTestOperator
from operators.approval import DeploymentApprovalOperator
from operators.blue_green import BlueGreenDeployOperator, BlueGreenFinalizeOperator, BlueGreenSwitchOperator
from operators.canary import CanaryPromoteOperator, CanaryStepOperator
from operators.lease import ACQUIRE_LOCK_TASK_ID
from operators.lock import DeployLockOperator
from operators.log_scan import LogScanOperator
from operators.migration import MigrationOperator
from operators.notify import SlackNotifyOperator
from operators.plan import RecordRollbackPlanOperator
from operators.preflight import PreflightOperator
from operators.record import RecordDeploymentOperator
from operators.rollback import RollbackOperator, stop_line_callback
from operators.rollout import RollingUpdateOperator
from operators.validate import ValidateRequestOperator
from operators.window_gate import WindowGateOperator
from operators.xcom_keys import DECISIONS_KEY, LINE_STOPPED_KEY, VALIDATE_TASK_ID
from sensors.metrics import MetricsSensor
from timetables.release_train import ReleaseTrainTimetable

RecordSources = dict[str, list[str]]

MAX_ACTIVE_RUNS = 4  # see build_deploy_dag: the Lease, not this, keeps deployments one at a time
# An approval answered within seconds can be failed by an Airflow scheduler race; its retry acts on the
# answer the failed try got (operators/approval.py). A Reject fails without a retry (AirflowFailException).
APPROVAL_RETRY = {"retries": 1, "retry_delay": timedelta(seconds=5)}


@dataclass
class Phase:
    entry: list[Any]
    exits: list[Any]
    record: RecordSources = field(default_factory=dict)
    group: Any = None  # the phase's TaskGroup, when a rollback must watch it
    after: list[Any] = field(default_factory=list)  # tasks that run whatever happened (the record waits)
    branch: Any = None  # production: the strategy branch (ChooseStrategyOperator)


def production_asset(spec: ServiceSpec) -> Asset:
    return Asset(name=f"airlock_{spec.service}_production", uri=f"airlock://{spec.service}/production")


def _ids(*tasks: Any) -> list[str]:
    return [t.task_id for t in tasks]


def _merge(*sources: RecordSources) -> RecordSources:
    merged: RecordSources = {}
    for source in sources:
        for name, ids in source.items():
            merged.setdefault(name, []).extend(ids)
    return merged


def _doc(spec: ServiceSpec, source: Path) -> str:
    return (
        f"### Deploy `{spec.service}`\n\n{spec.description}\n\n"
        f"* image: `{spec.image}:<version>`\n* strategies: {', '.join(spec.strategy.allowed)} "
        f"(default {spec.strategy.default})\n* production namespace: `{spec.kubernetes.production.namespace}`\n"
        f"* owners: {', '.join(spec.owners) or '-'}\n* spec file: `{source.name}`\n"
        f"* dashboard: {spec.metrics.dashboard or '-'}\n"
    )


# -- phases -------------------------------------------------------------------------------------------


def build_preflight(s: dict[str, Any]) -> tuple[Any, Phase]:
    """The window gate (it runs before the lock is taken, see build_deploy_dag) and the checks phase.

    The checks run after the window opened and the lock is held, so they judge the production the run
    will change (a wait of days makes earlier checks stale)."""
    with TaskGroup("preflight"):
        window = WindowGateOperator(task_id="window", spec=s)
        checks = PreflightOperator(task_id="checks", spec=s)
    return window, Phase([checks], [checks], {"preflight": _ids(checks), "window": _ids(window)})


def build_staging(s: dict[str, Any]) -> Phase:
    """Staging as it was is recorded first (the same rollback plan as production's, for the staging
    namespace); if any staging task fails, `restore` (trigger rule one_failed) puts it back with the same
    rollback as production's, so a version that failed in staging never stays there."""
    with TaskGroup("staging"):
        plan = RecordRollbackPlanOperator(task_id="record_rollback_plan", spec=s, environment="staging")
        deploy = RollingUpdateOperator(task_id="deploy", spec=s, environment="staging")
        health = HealthCheckOperator(task_id="health", spec=s, target="staging", pre_execute=skip_in_dry_run)
        smoke = SmokeTestOperator(task_id="smoke", spec=s, target="staging", pre_execute=skip_in_dry_run)
        soak = MetricsSensor(
            task_id="soak",
            spec=s,
            phase="staging",
            environment="staging",
            pre_execute=skip_for_hotfix_or_dry_run,
        )
        plan >> deploy >> health >> smoke >> soak
        restore = RollbackOperator(
            task_id="restore",
            spec=s,
            environment="staging",
            plan=plan.output,
            trigger_rule=TriggerRule.ONE_FAILED,
        )
        [plan, deploy, health, smoke, soak] >> restore
    # production follows every staging task, not only the soak: a hotfix skips the soak (a dry run also
    # the checks), and a skipped soak must not skip production with it
    return Phase(
        [plan],
        [deploy, health, smoke, soak],
        {
            "metrics": _ids(soak),
            "health": _ids(health),
            "smoke": _ids(smoke),
            "staging_plan": _ids(plan),
            "staging_rollback": _ids(restore),
        },
        after=[restore],
    )


def _build_rolling(s: dict[str, Any]) -> Phase:
    with TaskGroup("rolling"):
        update = RollingUpdateOperator(task_id="update", spec=s)
    return Phase([update], [update])


def _build_blue_green(spec: ServiceSpec, s: dict[str, Any], plan: Any) -> Phase:
    """Deploy the new colour, check it on the preview Service, switch, then observe it under full traffic
    for `post_switch_duration` (a deferred metrics gate against the previous version's window before the
    deployment): the old colour is retired only after that gate and the validation passed."""
    record: RecordSources = {}
    with TaskGroup("blue_green"):
        green = BlueGreenDeployOperator(task_id="deploy_green", spec=s)
        chain: list[Any] = [green]
        if "health" in spec.strategy.blue_green.pre_switch_checks:
            health = HealthCheckOperator(
                task_id="verify_green_health", spec=s, target="preview", pre_execute=skip_in_dry_run
            )
            chain.append(health)
            record["health"] = _ids(health)
        if "smoke" in spec.strategy.blue_green.pre_switch_checks and spec.smoke:
            smoke = SmokeTestOperator(
                task_id="verify_green_smoke", spec=s, target="preview", pre_execute=skip_in_dry_run
            )
            chain.append(smoke)
            record["smoke"] = _ids(smoke)
        switch = BlueGreenSwitchOperator(task_id="switch", spec=s)
        observe = MetricsSensor(
            task_id="post_switch_metrics",
            spec=s,
            phase="post_switch",
            plan=plan.output,
            # the colour now serving traffic, by its name (green, or blue on the next release)
            subject=f"{{{{ (ti.xcom_pull(task_ids='{switch.task_id}') or {{}}).get('colour') or 'green' }}}}",
            pre_execute=skip_in_dry_run,
        )
        chain += [switch, observe]
        record["metrics"] = _ids(observe)
        for a, b in zip(chain, chain[1:], strict=False):
            a >> b
    return Phase([green], [observe], record)


def _build_canary(spec: ServiceSpec, s: dict[str, Any], evidence: dict[str, Any]) -> Phase:
    """One step + analysis pair per step slot of the spec (a run may use fewer: the rest skip), then promote.

    With approvals.before_last_canary_step, `approve_promotion` asks between the last analysis and the
    promotion to 100 %: a rejection fails it, so promote never runs and the rollback restores production."""
    analyses: list[Any] = []
    with TaskGroup("canary"):
        previous: Any = None
        previous_step: Any = None
        first: Any = None
        for slot in range(len(spec.strategy.canary.steps) - 1):
            step = CanaryStepOperator(
                task_id=f"step_{slot + 1}",
                spec=s,
                slot=slot,
                trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS if slot else TriggerRule.ALL_SUCCESS,
            )
            analysis = MetricsSensor(
                task_id=f"analysis_{slot + 1}",
                spec=s,
                phase="canary",
                slot=slot,
                pre_execute=skip_in_dry_run,
                trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
            )
            if previous is not None:
                previous >> step
                previous_step >> step  # in a dry run the analyses skip; the next step still logs its plan
            step >> analysis
            analyses.append(analysis)
            previous, previous_step, first = analysis, step, first or step
        # none_failed + a strategy guard: a run whose steps are just [100] promotes directly
        promote = CanaryPromoteOperator(
            task_id="promote",
            spec=s,
            trigger_rule=TriggerRule.NONE_FAILED,
            pre_execute=only_for_strategy("canary"),
        )
        last = previous
        if spec.approvals.before_last_canary_step:
            approve = DeploymentApprovalOperator(
                task_id="approve_promotion",
                spec=s,
                gate="before_last_canary_step",
                evidence={**evidence, "verdicts": _ids(*analyses)},
                **APPROVAL_RETRY,
                # none_failed: a run whose steps are just [100] skips every analysis and is still asked
                # (the task skips itself for another strategy and in a dry run)
                trigger_rule=TriggerRule.NONE_FAILED,
            )
            if last is not None:
                last >> approve
            approve >> promote
            first = first or approve
        elif last is not None:
            last >> promote
    return Phase([first or promote], [promote], {"metrics": _ids(*analyses)})


def build_production(
    spec: ServiceSpec, s: dict[str, Any], validate: Any, evidence: dict[str, Any]
) -> tuple[Phase, Any]:
    """Returns the phase and its rollback-plan task (the rollback and the old-colour cleanup read it).
    `evidence`: where an approval finds what to show (DeploymentApprovalOperator's evidence sources)."""
    with TaskGroup("production") as group:
        plan = RecordRollbackPlanOperator(
            task_id="record_rollback_plan",
            spec=s,
            trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,  # after staging's skipped soak, see there
        )
        head: Any = plan
        record: RecordSources = {"plan": _ids(plan)}
        if spec.migration is not None:
            migrate = MigrationOperator(task_id="migrate", spec=s)
            plan >> migrate
            head = migrate
            record["migration"] = _ids(migrate)

        builders = {
            "rolling": lambda: _build_rolling(s),
            "blue_green": lambda: _build_blue_green(spec, s, plan),
            "canary": lambda: _build_canary(spec, s, {**evidence, "plan": _ids(plan)}),
        }
        strategies = {name: builders[name]() for name in spec.strategy.allowed}
        first_task: dict[str, str] = {name: phase.entry[0].task_id for name, phase in strategies.items()}

        branch = ChooseStrategyOperator(task_id="choose_strategy", first_task=first_task)
        validate >> branch
        head >> branch
        for phase in strategies.values():
            branch >> phase.entry
        if "canary" in strategies:
            # promote joins the canary's steps with none_failed (a run whose steps are just [100]
            # promotes directly), so every step skipped by the branch would still let it start - on a
            # worker, only to skip itself: another strategy's run skips it at the branch instead
            for promote in strategies["canary"].exits:
                branch.only_for("canary", promote)
    exits = [t for phase in strategies.values() for t in phase.exits]
    production = Phase(
        [plan], exits, _merge(record, *(p.record for p in strategies.values())), group, branch=branch
    )
    return production, plan


def build_approval(s: dict[str, Any], evidence: dict[str, Any]) -> Any:
    """The approval before production (approvals.before_production): after pre-flight and staging, before
    the rollback plan is recorded - a rejection fails it, so every production task is upstream_failed and
    production is never touched (the rollback finds no plan and does nothing); the record says who
    rejected it and why. A task of its own phase ("approval"), outside the production group."""
    with TaskGroup("approval"):
        return DeploymentApprovalOperator(
            task_id="before_production",
            spec=s,
            gate="before_production",
            evidence=evidence,
            **APPROVAL_RETRY,
            trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,  # after staging's skipped soak, see there
        )


def build_validation(s: dict[str, Any], plan: Any) -> Phase:
    """The metrics window compares the new version with the previous version's own pods over the same
    length of time before the rollback plan was recorded, i.e. before production changed."""
    with TaskGroup("validation") as group:
        health = HealthCheckOperator(
            task_id="health",
            spec=s,
            target="production",
            pre_execute=skip_in_dry_run,
            trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
        )
        smoke = SmokeTestOperator(task_id="smoke", spec=s, target="production", pre_execute=skip_in_dry_run)
        metrics = MetricsSensor(
            task_id="metrics", spec=s, phase="validation", plan=plan.output, pre_execute=skip_in_dry_run
        )
        logs = LogScanOperator(
            task_id="log_scan", spec=s, environment="production", pre_execute=skip_in_dry_run
        )
        health >> smoke >> metrics >> logs
    return Phase(
        [health],
        [logs],
        {"health": _ids(health), "smoke": _ids(smoke), "metrics": _ids(metrics), "log_scan": _ids(logs)},
        group,
    )


def build_complete(spec: ServiceSpec, s: dict[str, Any], plan: Any, branch: Any) -> Phase:
    with TaskGroup("complete"):
        finalize = BlueGreenFinalizeOperator(
            task_id="retire_old_colour", spec=s, plan=plan.output, pre_execute=only_for_strategy("blue_green")
        )
        deployed = mark_deployed(spec, s)
        finalize >> deployed
    if "blue_green" in spec.strategy.allowed:
        # another strategy's run skips the cleanup at the strategy branch, without a worker start
        branch.only_for("blue_green", finalize)
    # mark_deployed follows the validation directly too: `finalize` is skipped unless blue-green
    return Phase([finalize, deployed], [deployed])


# -- the DAG --------------------------------------------------------------------------------------------


def build_deploy_dag(spec: ServiceSpec, source: Path) -> DAG:
    s = spec_to_dict(spec)
    schedule = ReleaseTrainTimetable.from_spec_windows(s["windows"]) if spec.windows.release_train else None
    dag = AirlockDAG(
        dag_id=spec.dag_id,
        description=f"Safe production deployment of {spec.service}",
        doc_md=_doc(spec, source),
        schedule=schedule,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        # The cluster-side Lease is what allows one deployment per service at a time. More than one
        # active run lets a hotfix start while a planned run waits for its window (which it does
        # before taking the lock, holding no worker slot).
        max_active_runs=MAX_ACTIVE_RUNS,
        # Slack hears of a run still going past the spec's expected duration (notify.overdue_after)
        deadline=overdue_deadline(spec) if spec.notify.slack_connection else None,
        # params are attached after the tasks exist (share_params): see there why
        tags=["airlock", "deploy", spec.service],
        owner_links={},
        default_args={
            "owner": ", ".join(spec.owners) or "airlock",
            "retries": 0,
            "execution_timeout": task_timeouts(spec).quick,  # each task's own limit: apply_timeouts
        },
    )
    with dag:
        validate = ValidateRequestOperator(task_id=VALIDATE_TASK_ID, spec=s)
        # the window wait comes before the lock: a planned run waiting for its window blocks nothing,
        # and the rollback plan is recorded (after the lock) against the production it then finds
        window, preflight = build_preflight(s)
        lock = DeployLockOperator(task_id=ACQUIRE_LOCK_TASK_ID, spec=s, action="acquire")
        announce_start = SlackNotifyOperator(task_id="announce_start", spec=s, kind="start")
        validate >> window >> lock >> announce_start

        phases = [preflight]
        evidence: dict[str, Any] = {"preflight": _ids(*preflight.exits)}
        if spec.kubernetes.staging is not None:
            phases.append(build_staging(s))
            evidence["staging"] = [t for ids in _staging_evidence(phases[-1]) for t in ids]
            evidence["verdicts"] = phases[-1].record["metrics"]
        before_production = phases[-1]
        production, plan = build_production(spec, s, validate, evidence)
        validation = build_validation(s, plan)
        complete = build_complete(spec, s, plan, production.branch)
        phases += [production, validation, complete]
        announce_start >> phases[0].entry
        for before, after in zip(phases, phases[1:], strict=False):
            cross_downstream(before.exits, after.entry)
        if spec.approvals.before_production:
            # production keeps its edges from the phase before: in a dry run the approval skips and
            # production still runs (its entry is none_failed_min_one_success)
            approve = build_approval(s, evidence)
            cross_downstream(before_production.exits, [approve])
            cross_downstream([approve], production.entry)

        rollback = RollbackOperator(
            task_id="rollback",
            spec=s,
            plan=plan.output,
            trigger_rule=TriggerRule.ONE_FAILED,
            # a failed rollback needs a human, now: stop the line (also when the task died) and tell Slack
            on_failure_callback=stop_line_callback(s, TaskFailureNotifier.for_spec(spec)),
        )
        [production.group, validation.group] >> rollback

        sources = _merge(
            *(p.record for p in phases),
            {"rollback": _ids(rollback), "line_stopped": [f"{rollback.task_id}:{LINE_STOPPED_KEY}"]},
            {"decisions": _decision_sources(dag)},
        )
        record = RecordDeploymentOperator(
            task_id="record", spec=s, sources=_record_sources(sources), trigger_rule=TriggerRule.ALL_DONE
        )
        complete.exits >> record
        rollback >> record
        cross_downstream([t for p in phases for t in p.after], [record])  # e.g. the staging restore
        # success or rollback (with the reason and evidence), whichever the record says happened
        announce = SlackNotifyOperator(
            task_id="announce_outcome",
            spec=s,
            kind="outcome",
            record=record.output,
            trigger_rule=TriggerRule.ALL_DONE,
        )
        release = DeployLockOperator(task_id="release_lock", spec=s, action="release")
        release.as_teardown(setups=lock)
        record >> announce >> release
        RunOutcomeOperator(task_id="outcome", record=record.output, trigger_rule=TriggerRule.ALL_DONE)
    apply_timeouts(dag, task_timeouts(spec))
    share_params(dag, deploy_params(spec))
    start_gates_in_triggerer(dag)  # metrics gates hold no worker slot unless they fail
    return dag


def _timeout_for(op: Any, t: TaskTimeouts) -> timedelta:
    """Which of the spec-derived limits (airlock.timeouts) applies to a task of this graph."""
    if isinstance(op, DeploymentApprovalOperator):
        # Airflow bounds the wait for an answer by response_timeout, not by execution_timeout; this
        # covers the asking and the resume, and the whole wait too should Airflow ever count it
        return (op.response_timeout or timedelta(0)) + t.quick
    if isinstance(op, MetricsSensor):
        return {"canary": t.analysis, "staging": t.soak, "post_switch": t.post_switch}.get(
            op.phase, t.validation
        )
    if isinstance(op, DeployLockOperator) and op.action == "acquire":
        return t.lock  # a planned run may wait for a hotfix's lock (airlock.lock_wait); the release is quick
    kinds: list[tuple[type | tuple[type, ...], timedelta]] = [
        (RollbackOperator, t.rollback),
        (WindowGateOperator, t.window),
        (PreflightOperator, t.preflight),
        (MigrationOperator, t.migration),
        (BlueGreenFinalizeOperator, t.retire_old_colour),
        ((HealthCheckOperator, SmokeTestOperator, LogScanOperator), t.validation),
        (
            (
                RollingUpdateOperator,
                CanaryStepOperator,
                CanaryPromoteOperator,
                BlueGreenDeployOperator,
                BlueGreenSwitchOperator,
                RecordRollbackPlanOperator,
            ),
            t.rollout,
        ),
    ]
    for kind, limit in kinds:
        if isinstance(op, kind):
            return limit
    return t.quick


def apply_timeouts(dag: DAG, timeouts: TaskTimeouts) -> None:
    """Give every task its execution_timeout (validate, the lock's release, notify and record keep the quick
    default)."""
    for op in dag.tasks:
        op.execution_timeout = _timeout_for(op, timeouts)


# Record fields gathered from one task are that task's value; the check fields (and any field fed by
# several tasks) are {task_id: value}, in graph order.
_MULTI_SOURCE_FIELDS = ("metrics", "health", "smoke", "decisions")


def _decision_sources(dag: DAG) -> list[str]:
    """Every task that may push people's decisions: the approvals, and every metrics gate (holds, pauses
    and a running gate's controls), in graph order."""
    asking = (DeploymentApprovalOperator, MetricsSensor)
    return [f"{t.task_id}:{DECISIONS_KEY}" for t in dag.tasks if isinstance(t, asking)]


def _staging_evidence(staging: Phase) -> list[list[str]]:
    """What an approval shows of staging: its health, smoke and soak results, in that order."""
    return [staging.record.get(name, []) for name in ("health", "smoke", "metrics")]


def _record_sources(sources: RecordSources) -> dict[str, str | list[str]]:
    """Record field -> task id(s): the record operator reads these XComs without knowing the graph."""
    out: dict[str, str | list[str]] = {"request": VALIDATE_TASK_ID}
    for name, ids in sources.items():
        out[name] = ids if (name in _MULTI_SOURCE_FIELDS or len(ids) > 1) else ids[0]
    return out


def mark_deployed(spec: ServiceSpec, s: dict[str, Any]) -> MarkDeployedOperator:
    """Emit the service's production Asset event and the follow-up's (deploy_dag.followup); their extra
    says what to check and when: the service, its spec, and (added by the run) the deployed request."""
    return MarkDeployedOperator(
        task_id="mark_deployed",
        assets=[production_asset(spec), FOLLOW_UP_ASSET],
        event_extra={
            "service": spec.service,
            "follow_up_after_seconds": spec.notify.follow_up_after.total_seconds(),
            "spec": s,
        },
        pre_execute=skip_in_dry_run,
        trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
    )


def share_params(dag: DAG, params: dict[str, Any]) -> None:
    """Give the DAG its params and every task the *same* ParamsDict.

    Created inside a DAG that already has params, each operator deep-copies them (Airflow's
    get_merged_defaults): with ~40 tasks and 7 schema-rich params that copying was over half of the
    parse time of a service. Nothing mutates params after parsing, so one shared, equal dict gives
    every task exactly what the copies held. (Tasks never read params: the validate task turns them
    into the RunRequest.) Human-in-the-loop tasks keep their own: their params are the question's form
    fields (the approval's comment), not the run's.
    """
    if dag.timetable.can_be_scheduled:
        validate_scheduled_defaults(dag.dag_id, params)
    shared = ParamsDict(params)
    # Set without the attrs hooks: its validator is DAG._validate_params, which validate_scheduled_defaults
    # just did the same way at a fraction of the cost, and its converter only merges default_args["params"],
    # which this DAG does not use (build_deploy_dag).
    object.__setattr__(dag, "params", shared)
    shared._fill_missing_param_source("dag")
    for op in dag.tasks:
        if not isinstance(op, HITLOperator):
            op.params = shared


def validate_scheduled_defaults(dag_id: str, params: dict[str, Any]) -> None:
    """What Airflow checks when a DAG with a schedule gets params (DAG._validate_params): every param has a
    default that its JSON schema accepts - else the same ValueError.

    Airflow validates each default with `jsonschema.validate`, which first checks the schema itself
    against the JSON Schema meta-schema: 2.3 ms per release-train service, the same few schemas every
    time. Here each distinct schema is checked once per process (`_schema_validator`); every default is
    still validated, with the same format checker.
    """
    from jsonschema.exceptions import best_match  # lazy: only a scheduled DAG needs jsonschema

    for name, param in params.items():
        try:
            if not is_arg_set(param.value):
                raise ParamValidationError("No value passed and Param has no default value")
            error = best_match(
                _schema_validator(json.dumps(param.schema, sort_keys=True)).iter_errors(param.value)
            )
            if error is not None:
                raise ParamValidationError(f"Invalid input for param {name}: {error}")
        except ParamValidationError as pverr:
            raise ValueError(
                f"Dag {dag_id!r} is not allowed to define a Schedule, "
                "as there are required params without default values, or the default values are not valid."
            ) from pverr


@functools.lru_cache(maxsize=256)
def _schema_validator(schema_json: str) -> Any:
    """A validator of one (meta-schema checked) param schema, with Airflow's format checker."""
    from jsonschema import FormatChecker
    from jsonschema.validators import validator_for

    schema = json.loads(schema_json)
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=FormatChecker())
