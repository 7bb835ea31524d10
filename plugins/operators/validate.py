"""ValidateRequestOperator: the first task of every run turns the conf into the run's RunRequest.

The form validates declared params, but REST conf may carry undeclared or malformed keys, and a
scheduled release-train run carries no version at all: this task checks all of it against the service
spec (airlock.run_request), resolves the version, and fails with one clear message before any write.
It also refuses to start while the service's line is stopped (airlock.stop_line), naming the failed run.
Its return value is the RunRequest every later task acts on.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator, Context, Variable
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airlock.kube.api import Kube
from airlock.run_request import NothingQueued, build_run_request
from airlock.spec import SpecError, spec_from
from airlock.stop_line import LineStopped, refuse_if_stopped, stop_mark_name
from deploy_dag.params import release_train_variable
from operators.fast_setattr import FastSetattr
from operators.xcom_keys import FAILURE_REASON_KEY


def triggered_by(dag_run: Any) -> str:
    """Who asked for this run: the triggering user, or what scheduled it."""
    user = getattr(dag_run, "triggering_user_name", None)
    if user:
        return str(user)
    run_type = str(getattr(dag_run, "run_type", "") or "unknown").rsplit(".", 1)[-1].lower()
    return "release train (scheduled)" if run_type == "scheduled" else run_type


class ValidateRequestOperator(FastSetattr, BaseOperator):
    ui_color = "#e8f0fe"

    def __init__(self, *, spec: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec

    def execute(self, context: Context) -> dict[str, Any]:
        spec = spec_from(self.spec)
        dag_run = context["dag_run"]
        # params = declared keys with defaults (already form-validated); conf may add undeclared keys.
        conf = {**dict(context["params"]), **dict(dag_run.conf or {})}
        release_train = bool(spec.windows.release_train)
        queued = self._queued_version(spec) if release_train and conf.get("version") in (None, "") else None
        self.log.info("Validating run parameters for %s against its service spec: %s", spec.service, conf)
        try:
            request = build_run_request(
                conf,
                spec,
                run_id=str(context["run_id"]),
                triggered_by=triggered_by(dag_run),
                release_train=release_train,
                queued_version=queued,
            )
        except NothingQueued as exc:
            raise AirflowSkipException(f"{exc} (Variable {release_train_variable(spec)} is empty)") from None
        except SpecError as exc:
            context["ti"].xcom_push(key=FAILURE_REASON_KEY, value=str(exc))  # named by the run's outcome task
            raise AirflowFailException(str(exc)) from None
        self.log.info("Request accepted: %s.", request.describe())
        self._refuse_if_line_stopped(spec, context)
        return request.to_dict()

    def _refuse_if_line_stopped(self, spec: Any, context: Context) -> None:
        """No run starts while an earlier rollback's stop mark is on the cluster (airlock.stop_line)."""
        from operators._kube import api_client  # lazy: keeps DAG parsing free of the kubernetes clients

        namespace = spec.environment("production").namespace
        self.log.info(
            "Checking that the line is not stopped for %s (configmap %s/%s).",
            spec.service,
            namespace,
            stop_mark_name(spec.service),
        )
        try:
            refuse_if_stopped(Kube(api_client(spec, "production"), log=self.log), spec.service, namespace)
        except LineStopped as exc:
            context["ti"].xcom_push(key=FAILURE_REASON_KEY, value=str(exc))
            raise AirflowFailException(str(exc)) from None
        self.log.info("The line is not stopped: no earlier rollback left production needing a human.")

    def _queued_version(self, spec: Any) -> str | None:
        """What CI queued for the release train (Airflow Variable), or None."""
        key = release_train_variable(spec)
        version = Variable.get(key, default=None)
        if version:
            self.log.info("Release train: the queued version is %s (Variable %s).", version, key)
        return str(version) if version else None
