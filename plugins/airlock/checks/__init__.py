"""Pre-flight checks and functional gates (core, never imports Airflow).

One module per check; each exposes a function returning a `CheckResult` whose `evidence` carries the
numbers the decision was made on. The I/O is injected: a requests-like HTTP session, a
`kubernetes.client.ApiClient`, or a fetch callable. The Airflow adapters live in `plugins/operators/`.
"""

from airlock.checks.result import (
    FAIL,
    PASS,
    WARN,
    CheckResult,
    failing,
    format_table,
    results_table,
    run_guarded,
)

__all__ = ["FAIL", "PASS", "WARN", "CheckResult", "failing", "format_table", "results_table", "run_guarded"]
