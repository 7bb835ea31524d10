"""Metrics gates start in the triggerer (`start_from_trigger`): the scheduler defers them directly, so a
gate that passes or skips never takes a worker slot (issue 14: worker slots of a run).

Applied once the graph is complete (the lock task decides whether gates renew the run's lease). Each
MetricsSensor gets StartTriggerArgs for triggers.gate_start.GateStartTrigger built from its own arguments;
any other verdict resumes the sensor's `execute_complete` on a worker, as before (with the gate's state in
the event, so a hold can ask a person there). A sensor whose inputs the trigger cannot gather by itself (an
XCom other than a task's return value, an unknown pre_execute hook) keeps starting on a worker, and so does
a canary step's analysis: it puts its question to people (Continue / Promote now / ...) up before it
observes, which only a worker can. `dag.test()` ignores start_from_trigger and runs the sensor's `execute`.

This relies on the deploy DAG's params passing Airflow 3.3.2's triggerer-side `process_params`
(deploy_dag.params: the version param has a default, see there).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG
from airflow.triggers.base import StartTriggerArgs

from operators.lease import ACQUIRE_LOCK_TASK_ID
from operators.links import DashboardLink, dashboard_url
from sensors.metrics import MetricsSensor

# The trigger's module is not imported here: it pulls in the analysis core and the HTTP clients, and
# this module runs at every parse.
GATE_TRIGGER = "triggers.gate_start.GateStartTrigger"

# the sensor's fields that may hold a Jinja template; the trigger renders them with the task's context
TEMPLATED = ("baseline_version", "baseline_end", "subject", "health_ok", "smoke_ok")

# the pre_execute guards (deploy_dag.guards) the trigger applies itself, by name
GUARDS = ("skip_in_dry_run", "skip_for_hotfix_or_dry_run")


def _return_value_task(value: Any) -> str | None:
    """The task id when `value` is another task's return value (`task.output`), else None."""
    from airflow.sdk.definitions.xcom_arg import PlainXComArg

    if isinstance(value, PlainXComArg) and value.key == "return_value":
        return str(value.operator.task_id)
    return None


def gate_start_args(sensor: MetricsSensor, fenced: bool) -> StartTriggerArgs | None:
    """StartTriggerArgs that let `sensor` start in the triggerer, or None when it must start on a worker."""
    from airflow.sdk.definitions.xcom_arg import XComArg

    if sensor.asks_while_observing:
        return None  # a canary step's analysis puts its question to people up first, from a worker
    hook = getattr(sensor, "_pre_execute_hook", None)
    guard = getattr(hook, "__name__", None) if hook is not None else None
    if guard is not None and guard not in GUARDS:
        return None
    if any(isinstance(getattr(sensor, name), XComArg) for name in TEMPLATED):
        return None
    plan_from = _return_value_task(sensor.plan_record)
    if plan_from is None and sensor.plan_record is not None:
        return None
    gate = {
        "spec": sensor.spec,
        "phase": sensor.phase,
        "environment": sensor.environment,
        "duration": sensor.duration,
        "slot": sensor.slot,
        "guard": guard,
        **{name: getattr(sensor, name) for name in TEMPLATED},
    }
    return StartTriggerArgs(
        trigger_cls=GATE_TRIGGER,
        trigger_kwargs={
            "gate": gate,
            "plan_from": plan_from,
            "fenced": fenced,
            "links": {DashboardLink().xcom_key: dashboard_url(sensor.spec)},
            "request_from": sensor.request_from,
        },
        next_method="execute_complete",
        # None: the task's execution_timeout (airlock.timeouts, the gate's whole observation) bounds it
        timeout=None,
    )


def start_gates_in_triggerer(dag: DAG) -> None:
    """Let every deferrable MetricsSensor of `dag` start in the triggerer (see the module docstring)."""
    fenced = dag.has_task(ACQUIRE_LOCK_TASK_ID)
    for task in dag.tasks:
        if isinstance(task, MetricsSensor) and task.deferrable and task.request is None:
            args = gate_start_args(task, fenced)
            if args is not None:
                task.start_trigger_args = args
                task.start_from_trigger = True
