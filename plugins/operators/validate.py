"""ValidateRequestOperator: the first task of every run re-validates the whole conf.

The form validates declared params, but REST conf may carry undeclared or malformed keys: this task
checks all of it against the service spec and fails with one clear message before any write.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowFailException

from airlock.request import canary_steps, validate_request
from airlock.spec import SpecError, spec_from


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
        conf = {k: v for k, v in conf.items() if not (k == "canary_steps" and v in (None, ""))}
        self.log.info("Validating run parameters for %s against its service spec: %s", spec.service, conf)
        try:
            request = validate_request(conf, spec)
        except SpecError as exc:
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
