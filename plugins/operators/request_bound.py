"""RequestBound: operators act on the run's validated RunRequest, never on `params`.

The request is bound when the task's templates are rendered - the one step Airflow runs before both
`execute` and the method a deferred task resumes in - by pulling the `validate` task's XCom. An
operator built with an explicit `request` (a RunRequest or its dict, e.g. in tests) uses that instead.
"""

from __future__ import annotations

from typing import Any

from airlock.run_request import RunRequest
from operators.fast_setattr import FastSetattr
from operators.xcom_keys import VALIDATE_TASK_ID


def pull_request(context: Any, task_id: str = VALIDATE_TASK_ID) -> RunRequest:
    """The run's RunRequest from the validate task's XCom; a clear error when it is missing."""
    data = context["ti"].xcom_pull(task_ids=task_id)
    if not isinstance(data, dict):
        raise RuntimeError(
            f"task {task_id!r} returned no request (got {type(data).__name__}); cannot decide what to run"
        )
    return RunRequest.from_dict(data)


class RequestBound(FastSetattr):
    """Mixin (before BaseOperator in the bases): `self.run_request`, `self.version`, `self.is_dry_run`.

    (FastSetattr: a cheaper BaseOperator.__setattr__, for parse time - see there.)"""

    # True for tasks that also run when `validate` failed (the lock release, the outcome message): they
    # then have no request and act only on what they can know without one.
    request_optional: bool = False

    def __init__(
        self,
        *,
        request: RunRequest | dict[str, Any] | None = None,
        request_from: str = VALIDATE_TASK_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.request = request.to_dict() if isinstance(request, RunRequest) else request
        self.request_from = request_from  # the task whose return value is the request

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        super().render_template_fields(context, jinja_env)  # type: ignore[misc]
        if self.request is None:
            try:
                self.request = pull_request(context, self.request_from).to_dict()
            except RuntimeError:
                if not self.request_optional:
                    raise

    @property
    def run_request(self) -> RunRequest:
        if self.request is None:
            raise RuntimeError("the run's request is bound when the task starts; it is not available yet")
        return RunRequest.from_dict(self.request)

    @property
    def version(self) -> str:
        return self.run_request.version

    @property
    def has_request(self) -> bool:
        return self.request is not None

    @property
    def is_dry_run(self) -> bool:
        return self.has_request and self.run_request.dry_run
