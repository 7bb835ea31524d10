"""ValidateRequestOperator: the first task of every run re-validates the whole conf.

The form validates declared params, but REST conf may carry undeclared or malformed keys: this task
checks all of it against the service spec and fails with one clear message before any write.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator, Context, Variable
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airlock.request import canary_steps, validate_request
from airlock.spec import SpecError, spec_from
from deploy_dag.params import release_train_variable


class ValidateRequestOperator(BaseOperator):
    ui_color = "#e8f0fe"

    def __init__(self, *, spec: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec

    def execute(self, context: Context) -> dict[str, Any]:
        spec = spec_from(self.spec)
        dag_run = context["dag_run"]
        # params = declared keys with defaults (already form-validated); conf may add undeclared keys.
        conf = {**dict(context["params"]), **dict(dag_run.conf or {})}
        conf = {k: v for k, v in conf.items() if not (k in ("canary_steps", "version") and v in (None, ""))}
        if "version" not in conf and spec.windows.release_train:
            conf["version"] = self._queued_version(spec)
        self.log.info("Validating run parameters for %s against its service spec: %s", spec.service, conf)
        try:
            request = validate_request(conf, spec)
        except SpecError as exc:
            context["ti"].xcom_push(key="failure_reason", value=str(exc))  # named by the run's outcome task
            raise AirflowFailException(str(exc)) from None
        result = request.model_dump()
        result["canary_steps"] = canary_steps(request, spec) if request.strategy == "canary" else []
        result["image"] = spec.image_ref(request.version)
        self.log.info(
            "Request accepted: deploy %s with strategy %s%s%s%s.",
            result["image"],
            request.strategy,
            f" (steps {result['canary_steps']} %)" if result["canary_steps"] else "",
            " as a HOTFIX (staging soak skipped, recorded)" if request.is_hotfix else "",
            " - DRY RUN, nothing will be written" if request.dry_run else "",
        )
        return result

    def _queued_version(self, spec: Any) -> str:
        """A release-train run deploys what CI queued; with nothing queued the train leaves empty."""
        key = release_train_variable(spec)
        version = Variable.get(key, default=None)
        if not version:
            raise AirflowSkipException(
                f"release train for {spec.service}: no version queued in Variable {key}; nothing to deploy"
            )
        self.log.info("Release train: deploying the queued version %s (Variable %s).", version, key)
        return str(version)
