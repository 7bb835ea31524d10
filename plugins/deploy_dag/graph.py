"""The task graph of `deploy_<service>`: the seed workflow as dependencies.

validate -> lock -> pre-flight -> window gate -> staging (deploy, health, smoke, soak)
  -> production (rollback plan, migration, branch: rolling | blue-green | canary steps + analysis)
  -> validation (health with version, smoke, metrics window, log scan)
  -> complete (old colour cleanup, announce, record)
A rollback task (trigger rule one_failed) watches every production and validation task; the lock is
released by a teardown whatever happens.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, TaskGroup, TriggerRule, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airlock.spec import ServiceSpec, spec_to_dict
from deploy_dag.guards import VALIDATE_TASK_ID, skip_for_hotfix_or_dry_run, skip_in_dry_run
from deploy_dag.params import deploy_params
from operators.app_checks import HealthCheckOperator, SmokeTestOperator
from operators.blue_green import BlueGreenDeployOperator, BlueGreenFinalizeOperator, BlueGreenSwitchOperator
from operators.canary import CanaryPromoteOperator, CanaryStepOperator
from operators.lock import DeployLockOperator
from operators.log_scan import LogScanOperator
from operators.migration import MigrationOperator
from operators.notify import SlackNotifyOperator, slack_failure_callback
from operators.plan import RecordRollbackPlanOperator
from operators.preflight import PreflightOperator
from operators.record import RecordDeploymentOperator
from operators.rollback import RollbackOperator, failure_reason
from operators.rollout import RollingUpdateOperator
from operators.validate import ValidateRequestOperator
from operators.window_gate import WindowGateOperator
from sensors.metrics import MetricsSensor
from timetables.release_train import ReleaseTrainTimetable

VERSION = "{{ params.version }}"
DRY_RUN = "{{ ti.xcom_pull(task_ids='validate')['dry_run'] }}"
STRATEGY = "{{ ti.xcom_pull(task_ids='validate')['strategy'] }}"


def production_asset(spec: ServiceSpec) -> Asset:
    return Asset(name=f"airlock_{spec.service}_production", uri=f"airlock://{spec.service}/production")


def canary_weight(slot: int) -> str:
    """Template for the weight of canary slot `slot`: the run's effective step, or '' (slot unused)."""
    steps = f"ti.xcom_pull(task_ids='{VALIDATE_TASK_ID}')['canary_steps']"
    return f"{{{{ ({steps}[:-1])[{slot}] if ({steps}[:-1]) | length > {slot} else '' }}}}"


def skip_unused_slot(slot: int) -> Callable[[Any], None]:
    def guard(context: Any) -> None:
        steps = context["ti"].xcom_pull(task_ids=VALIDATE_TASK_ID)["canary_steps"][:-1]
        if slot >= len(steps):
            raise AirflowSkipException(f"canary step slot {slot + 1} is not used by this run (steps {steps})")
        skip_in_dry_run(context)

    return guard


def only_for_strategy(strategy: str) -> Callable[[Any], None]:
    def guard(context: Any) -> None:
        chosen = context["ti"].xcom_pull(task_ids=VALIDATE_TASK_ID)["strategy"]
        if chosen != strategy:
            raise AirflowSkipException(f"only runs for strategy {strategy}; this run uses {chosen}")

    return guard


def _doc(spec: ServiceSpec, source: Path) -> str:
    return (
        f"### Deploy `{spec.service}`\n\n{spec.description}\n\n"
        f"* image: `{spec.image}:<version>`\n* strategies: {', '.join(spec.strategy.allowed)} "
        f"(default {spec.strategy.default})\n* production namespace: `{spec.kubernetes.production.namespace}`\n"
        f"* owners: {', '.join(spec.owners) or '-'}\n* spec file: `{source.name}`\n"
        f"* dashboard: {spec.metrics.dashboard or '-'}\n"
    )


def build_deploy_dag(spec: ServiceSpec, source: Path) -> DAG:
    s = spec_to_dict(spec)
    schedule = ReleaseTrainTimetable.from_spec_windows(s["windows"]) if spec.windows.release_train else None
    dag = DAG(
        dag_id=spec.dag_id,
        description=f"Safe production deployment of {spec.service}",
        doc_md=_doc(spec, source),
        schedule=schedule,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,  # one deployment per service at a time (plus the cluster-side lease)
        # params are attached after the tasks exist (share_params): see there why
        tags=["airlock", "deploy", spec.service],
        owner_links={},
        default_args={"owner": ", ".join(spec.owners) or "airlock", "retries": 0},
    )
    with dag:
        validate = ValidateRequestOperator(task_id=VALIDATE_TASK_ID, spec=s)
        lock = DeployLockOperator(task_id="acquire_lock", spec=s, action="acquire", holder="{{ run_id }}")
        announce_start = SlackNotifyOperator(task_id="announce_start", spec=s, kind="start")

        with TaskGroup("preflight") as preflight:
            checks = PreflightOperator(task_id="checks", spec=s, version=VERSION)
            window = WindowGateOperator(task_id="window", spec=s)
            checks >> window

        last: Any = preflight
        if spec.kubernetes.staging is not None:
            with TaskGroup("staging") as staging:
                st_deploy = RollingUpdateOperator(
                    task_id="deploy", spec=s, version=VERSION, environment="staging", dry_run=DRY_RUN
                )
                st_health = HealthCheckOperator(
                    task_id="health", spec=s, version=VERSION, target="staging", pre_execute=skip_in_dry_run
                )
                st_smoke = SmokeTestOperator(
                    task_id="smoke", spec=s, version=VERSION, target="staging", pre_execute=skip_in_dry_run
                )
                st_soak = MetricsSensor(
                    task_id="soak", spec=s, version=VERSION, phase="staging", environment="staging",
                    pre_execute=skip_for_hotfix_or_dry_run,
                )
                st_deploy >> st_health >> st_smoke >> st_soak
            last >> staging
            # production follows every staging task, not only the soak: a hotfix skips the soak (a dry run
            # also the checks), and a skipped soak must not skip production with it
            last = [st_deploy, st_health, st_smoke, st_soak]

        with TaskGroup("production") as production:
            plan = RecordRollbackPlanOperator(
                task_id="record_rollback_plan", spec=s, strategy=STRATEGY,
                trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,  # see `last` above
            )
            head = plan
            if spec.migration is not None:
                migrate = MigrationOperator(
                    task_id="migrate", spec=s, version=VERSION, environment="production", dry_run=DRY_RUN
                )
                plan >> migrate
                head = migrate

            @task.branch(task_id="choose_strategy", multiple_outputs=False)
            def choose_strategy(request: dict[str, Any]) -> str:
                return f"production.{request['strategy']}.{_FIRST_TASK[request['strategy']]}"

            branch = choose_strategy(validate.output)
            head >> branch
            strategy_ends: list[Any] = []

            if "rolling" in spec.strategy.allowed:
                with TaskGroup("rolling"):
                    update = RollingUpdateOperator(
                        task_id="update", spec=s, version=VERSION, environment="production", dry_run=DRY_RUN
                    )
                branch >> update
                strategy_ends.append(update)

            if "blue_green" in spec.strategy.allowed:
                with TaskGroup("blue_green"):
                    green = BlueGreenDeployOperator(task_id="deploy_green", spec=s, version=VERSION, dry_run=DRY_RUN)
                    chain = [green]
                    if "health" in spec.strategy.blue_green.pre_switch_checks:
                        chain.append(HealthCheckOperator(
                            task_id="verify_green_health", spec=s, version=VERSION, target="preview",
                            pre_execute=skip_in_dry_run,
                        ))
                    if "smoke" in spec.strategy.blue_green.pre_switch_checks and spec.smoke:
                        chain.append(SmokeTestOperator(
                            task_id="verify_green_smoke", spec=s, version=VERSION, target="preview",
                            pre_execute=skip_in_dry_run,
                        ))
                    chain.append(BlueGreenSwitchOperator(task_id="switch", spec=s, version=VERSION, dry_run=DRY_RUN))
                    for a, b in zip(chain, chain[1:], strict=False):
                        a >> b
                branch >> green
                strategy_ends.append(chain[-1])

            if "canary" in spec.strategy.allowed:
                with TaskGroup("canary"):
                    previous: Any = None
                    previous_step: Any = None
                    first: Any = None
                    for slot in range(len(spec.strategy.canary.steps) - 1):
                        step = CanaryStepOperator(
                            task_id=f"step_{slot + 1}", spec=s, version=VERSION, weight=canary_weight(slot),
                            dry_run=DRY_RUN, pre_execute=skip_unused_slot_allow_dry(slot),
                            trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS if slot else TriggerRule.ALL_SUCCESS,
                        )
                        analysis = MetricsSensor(
                            task_id=f"analysis_{slot + 1}", spec=s, version=VERSION, phase="canary",
                            weight=canary_weight(slot), pre_execute=skip_unused_slot(slot),
                            trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
                        )
                        if previous is not None:
                            previous >> step
                            # in a dry run the analyses skip; the next step still logs its plan
                            previous_step >> step
                        step >> analysis
                        previous, previous_step, first = analysis, step, first or step
                    # none_failed + a strategy guard: a run whose steps are just [100] promotes directly
                    promote = CanaryPromoteOperator(
                        task_id="promote", spec=s, version=VERSION, dry_run=DRY_RUN,
                        trigger_rule=TriggerRule.NONE_FAILED, pre_execute=only_for_strategy("canary"),
                    )
                    if previous is not None:
                        previous >> promote
                branch >> (first or promote)
                strategy_ends.append(promote)

        last >> plan

        with TaskGroup("validation") as validation:
            v_health = HealthCheckOperator(
                task_id="health", spec=s, version=VERSION, target="production", pre_execute=skip_in_dry_run,
                trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
            )
            v_smoke = SmokeTestOperator(
                task_id="smoke", spec=s, version=VERSION, target="production", pre_execute=skip_in_dry_run
            )
            v_metrics = MetricsSensor(
                task_id="metrics", spec=s, version=VERSION, phase="validation", pre_execute=skip_in_dry_run
            )
            v_logs = LogScanOperator(
                task_id="log_scan", spec=s, version=VERSION, environment="production", pre_execute=skip_in_dry_run
            )
            v_health >> v_smoke >> v_metrics >> v_logs
        strategy_ends >> v_health

        rollback = RollbackOperator(
            task_id="rollback", spec=s, plan=plan.output, dry_run=DRY_RUN, trigger_rule=TriggerRule.ONE_FAILED,
            on_failure_callback=slack_failure_callback(s),  # a failed rollback needs a human, now
        )
        [production, validation] >> rollback

        with TaskGroup("complete") as complete:
            finalize = BlueGreenFinalizeOperator(
                task_id="retire_old_colour", spec=s, version=VERSION, plan=plan.output, dry_run=DRY_RUN,
                pre_execute=only_for_strategy("blue_green"),
            )
            deployed = mark_deployed(spec)
            # mark_deployed follows the validation directly too: `finalize` is skipped unless blue-green
            v_logs >> finalize >> deployed
            v_logs >> deployed

        record = RecordDeploymentOperator(
            task_id="record",
            spec=s,
            sources=_record_sources(spec),
            trigger_rule=TriggerRule.ALL_DONE,
        )
        [complete, rollback] >> record
        # success or rollback (with the reason and evidence), whichever the record says happened
        announce = SlackNotifyOperator(
            task_id="announce_outcome", spec=s, kind="outcome", record=record.output,
            trigger_rule=TriggerRule.ALL_DONE,
        )
        release = DeployLockOperator(
            task_id="release_lock", spec=s, action="release", holder="{{ run_id }}"
        ).as_teardown(setups=lock)
        record >> announce >> release
        run_outcome(record.output)

        validate >> lock >> announce_start >> preflight
    share_params(dag, deploy_params(spec))
    return dag


def run_outcome(record: Any) -> Any:
    """The run's final state. Airflow judges a run by its leaf tasks, and every other leaf runs whatever
    happened (record and announcement are all_done, the lock release is a teardown), so without this a
    rolled-back deployment would show as a successful run. Fails unless the record says it went live."""

    @task(task_id="outcome", trigger_rule=TriggerRule.ALL_DONE, multiple_outputs=False)
    def _outcome(record: dict[str, Any] | None, **context: Any) -> str:
        if not isinstance(record, dict) or "outcome" not in record:
            # the record is inside the lock's setup/teardown scope: it does not run when validation or the
            # lock failed (nothing was deployed, nothing announced), so say here what failed and why
            if not _any_task_failed(context):  # e.g. a release train with no version queued: all skipped
                raise AirflowSkipException("nothing was deployed and nothing failed; see the validate task")
            raise AirflowFailException(f"the deployment did not start: {failure_reason(context)}")
        if record["outcome"] in ("succeeded", "dry_run"):
            return str(record["outcome"])
        message = (
            f"deployment of {record.get('service')} {record.get('version')} {record['outcome']}: {record.get('reason')}"
        )
        context["ti"].xcom_push(key="failure_reason", value=message)
        raise AirflowFailException(message)

    return _outcome(record)


def _any_task_failed(context: Any) -> bool:
    ti = context["ti"]
    states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id]).get(ti.run_id, {})
    return any(str(state).rsplit(".", 1)[-1].lower() in ("failed", "upstream_failed") for state in states.values())


def mark_deployed(spec: ServiceSpec) -> Any:
    """Emit the service's production Asset event; its extra tells the follow-up DAG what to check."""
    asset = production_asset(spec)

    @task(task_id="mark_deployed", outlets=[asset], pre_execute=skip_in_dry_run, multiple_outputs=False,
          trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    def _mark(**context: Any) -> dict[str, Any]:
        request = context["ti"].xcom_pull(task_ids=VALIDATE_TASK_ID)
        extra = {
            "service": spec.service,
            "version": request["version"],
            "strategy": request["strategy"],
            "run_id": context["run_id"],
            "follow_up_after_seconds": spec.notify.follow_up_after.total_seconds(),
        }
        context["outlet_events"][asset].extra = extra
        return extra

    return _mark()


def share_params(dag: DAG, params: dict[str, Any]) -> None:
    """Give the DAG its params and every task the *same* ParamsDict.

    Created inside a DAG that already has params, each operator deep-copies them (Airflow's
    get_merged_defaults): with ~40 tasks and 7 schema-rich params that copying was over half of the
    parse time of a service. Nothing mutates params after parsing, so one shared, equal dict gives
    every task exactly what the copies held.
    """
    dag.params = params  # type: ignore[assignment]  # the attrs converter builds the ParamsDict
    shared = dag.params
    shared._fill_missing_param_source("dag")
    for op in dag.tasks:
        op.params = shared


_FIRST_TASK = {"rolling": "update", "blue_green": "deploy_green", "canary": "step_1"}


def skip_unused_slot_allow_dry(slot: int) -> Callable[[Any], None]:
    """Canary step tasks run in a dry run (they log their plan), but unused slots always skip."""

    def guard(context: Any) -> None:
        steps = context["ti"].xcom_pull(task_ids=VALIDATE_TASK_ID)["canary_steps"][:-1]
        if slot >= len(steps):
            raise AirflowSkipException(f"canary step slot {slot + 1} is not used by this run (steps {steps})")

    return guard


def _record_sources(spec: ServiceSpec) -> dict[str, str | list[str]]:
    """Record field -> task id(s): the record operator reads these XComs without knowing the graph."""
    metrics = ["validation.metrics"]
    health = ["validation.health"]
    smoke = ["validation.smoke"]
    if spec.kubernetes.staging is not None:
        metrics.insert(0, "staging.soak")
        health.insert(0, "staging.health")
        smoke.insert(0, "staging.smoke")
    if "canary" in spec.strategy.allowed:
        slots = range(1, len(spec.strategy.canary.steps))
        metrics[-1:-1] = [f"production.canary.analysis_{slot}" for slot in slots]
    if "blue_green" in spec.strategy.allowed:
        if "health" in spec.strategy.blue_green.pre_switch_checks:
            health.insert(-1, "production.blue_green.verify_green_health")
        if "smoke" in spec.strategy.blue_green.pre_switch_checks and spec.smoke:
            smoke.insert(-1, "production.blue_green.verify_green_smoke")
    sources: dict[str, str | list[str]] = {
        "request": VALIDATE_TASK_ID,
        "window": "preflight.window",
        "preflight": "preflight.checks",
        "plan": "production.record_rollback_plan",
        "metrics": metrics,
        "health": health,
        "smoke": smoke,
        "log_scan": "validation.log_scan",
        "rollback": "rollback",
    }
    if spec.migration is not None:
        sources["migration"] = "production.migrate"
    return sources
