"""CeleryExecutor for real: PostgreSQL and Redis from Debian, 2 schedulers, 2 Celery workers, a triggerer,
a dag-processor and an api-server as separate processes, deploying to kubesim (demo/scaleout.py).

1. Four services at once (a healthy canary, a bad canary, a blue-green, a rolling update); a Celery
   worker that is running a deployment task and a scheduler get SIGKILL mid-run. Every run must end
   deployed or cleanly rolled back, checked in kubesim (ready pods behind each live Service all on the
   new image or all on the old one, no canary replicas) and in each run's deployment record.
2. Fifty services triggered at once (rolling, short steps): all must deploy. Deployments per hour,
   p50/p95 queue-to-start latency and the peak of busy worker slots are reported, not asserted.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Generator

import pytest

from demo.scaleout import (
    FAULT_SERVICES,
    THROUGHPUT_SERVICES,
    build_stack,
    fault_run,
    throughput_run,
    throughput_services,
)
from demo.scaleout_stack import SCHEDULERS, WORKERS, ScaleOutStack, locate_postgres
from demo.stack import REPO
from tests.scaleout.conftest import FIGURES

pytestmark = [pytest.mark.scaleout, pytest.mark.timeout(2400)]
FLEET = throughput_services(THROUGHPUT_SERVICES)


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest) -> Generator[ScaleOutStack, None, None]:
    missing = [
        tool
        for tool, found in (
            ("postgresql (postgres)", locate_postgres("postgres")),
            ("redis-server", shutil.which("redis-server")),
            ("prometheus", shutil.which("prometheus")),
            ("prometheus-alertmanager", shutil.which("prometheus-alertmanager")),
        )
        if not found
    ]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (apt-get install postgresql redis-server ...)")
    lines: list[str] = []
    workdir = REPO / ".scaleout" / "pytest"
    started = time.monotonic()
    scale = build_stack(workdir, [*FAULT_SERVICES, *FLEET], say=lines.append)
    with scale:
        scale.started_in = time.monotonic() - started  # type: ignore[attr-defined]
        scale.lines = lines  # type: ignore[attr-defined]
        yield scale
        groups = scale.pids()
    # CI's budget (60 min for all of `make test`) is what keeps this run's length in view
    request.config.stash[FIGURES].append(
        f"scale-out test in all: {time.monotonic() - started:.0f} s (stack start, both runs, stack stop)"
    )
    # stopping the stack ended every process it started: PostgreSQL, Redis and every Airflow process
    for pgid in groups:
        with pytest.raises(ProcessLookupError):
            os.killpg(pgid, 0)


def test_crashed_worker_and_scheduler_leave_every_run_deployed_or_rolled_back(stack, report) -> None:
    report(
        f"stack up in {stack.started_in:.0f} s: PostgreSQL, Redis, api-server, {len(SCHEDULERS)} schedulers, "
        f"dag-processor, triggerer, {len(WORKERS)} Celery workers x {stack.worker_slots} slots"
    )
    result = fault_run(stack, FAULT_SERVICES, say=stack.lines.append)
    report(
        f"fault run ({result.seconds:.0f} s): SIGKILL to {result.killed_worker} while it ran "
        f"{', '.join(result.killed_while_running) or 'nothing'}, and to {result.killed_scheduler}"
    )
    for end in result.ends:
        report(end.line())
    log = "\n".join(stack.lines[-80:])
    # the crash hit work in flight, not an idle worker
    assert result.killed_while_running, log
    assert not result.problems, "\n".join(result.problems) + "\n" + log
    by_name = {end.service.name: end for end in result.ends}
    # the bad canary never becomes production, whatever crashed around it (judge_end checked that its
    # ready pods are all on the old image and that its record says rolled back or stopped before production)
    assert by_name["so-canary-bad"].state == "failed", log
    # the survivors carried on: the killed processes are gone and were replaced
    assert set(stack.celery_workers()) >= set(WORKERS)


def test_fifty_services_at_once_all_deploy(stack, report) -> None:
    result = throughput_run(stack, FLEET, say=stack.lines.append)
    for line in result.lines():
        report(line)
    assert result.succeeded == len(FLEET), result.failed_runs
    assert result.latency_samples > 0 and result.peak_busy_slots > 0
    # a rolling run's tasks of other strategies are skipped at the branch, never started on a worker
    assert result.skipped_on_worker == 0, result.lines()
    assert "answered" in result.scrapes, result.scrapes  # Prometheus's own account of its kubesim scrapes
