"""Task ids and XCom keys that tasks hand each other: each written once, here.

What travels under them is a typed seam (a frozen dataclass's `to_dict()`), never a free-form dict.
"""

from __future__ import annotations

VALIDATE_TASK_ID = "validate"  # its return value is the run's RunRequest (airlock.run_request)
RETURN_VALUE = "return_value"
FAILURE_REASON_KEY = "failure_reason"  # a failing task's one-sentence reason, for rollback, record and Slack
PREFLIGHT_CHECKS_KEY = "checks"  # pre-flight results, pushed before a failure too
SMOKE_RESULTS_KEY = "smoke"  # smoke results, pushed before a failure too
WINDOW_STARTED_KEY = "window_gate_started_at"  # survives the window gate's deferral
LINE_STOPPED_KEY = "line_stopped"  # a failed rollback's stop mark (airlock.stop_line), for the record
# every answer a person (or a timeout) gave at this task's question, in order: [airlock.people.Decision dicts]
DECISIONS_KEY = "decisions"
RETRY_KEY = "retry"  # a retry's airlock.run_retry.RetryNote (acquire_lock pushes it), for the record
