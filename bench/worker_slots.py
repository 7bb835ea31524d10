"""Worker-slot time / wall time of the demo's canary run (target <= 10 % thanks to deferral).

Starts the demo stack (kubesim, Prometheus, Alertmanager, airflow standalone), triggers demo-api v2
as a canary through the REST API and samples every task instance's state from the REST API every
0.25 s. Worker-slot time is the time task instances spent in state `running` (a deferred task is in
state `deferred` and holds no slot); the figure is a sampled estimate, +-0.25 s per state change.
For contrast it also prints Airflow's own `duration` sum, which for deferrable tasks spans from the
first start to the end, deferral included, and the machine's load average at the start and the end of
the run (task starts are CPU-bound: on a loaded machine every one holds its slot longer).

    uv run --frozen python bench/worker_slots.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from demo.stack import Stack, free_port, run_with_stack  # noqa: E402

DAG_ID = "deploy_demo-api"
SAMPLE = 0.25


def measure(stack: Stack) -> int:
    api = stack.api
    assert api is not None
    api.wait_for_dag(DAG_ID)
    api.unpause(DAG_ID)
    run = api.trigger(DAG_ID, {"version": "v2", "strategy": "canary", "window": "now"})
    run_id = run["dag_run_id"]
    load_at_start = os.getloadavg()
    running: dict[str, float] = defaultdict(float)
    deferred: dict[str, float] = defaultdict(float)
    started = time.monotonic()
    last = started
    state = "queued"
    while state not in ("success", "failed") and time.monotonic() - started < 600:
        time.sleep(SAMPLE)
        now = time.monotonic()
        for ti in api.task_instances(DAG_ID, run_id):
            if ti.get("state") == "running":
                running[ti["task_id"]] += now - last
            elif ti.get("state") == "deferred":
                deferred[ti["task_id"]] += now - last
        last = now
        state = api.dag_run(DAG_ID, run_id).get("state") or state
    wall = time.monotonic() - started
    tis = api.task_instances(DAG_ID, run_id)
    duration_sum = sum(ti.get("duration") or 0.0 for ti in tis)
    slots = sum(running.values())
    print(f"run {run_id}: {state}")
    # most worker-slot time first: where to look to bring the share down
    print(f"{'task':45} {'running s':>10} {'deferred s':>11}")
    for task in sorted(set(running) | set(deferred), key=lambda t: (-running[t], -deferred[t], t)):
        print(f"{task:45} {running[task]:10.1f} {deferred[task]:11.1f}")
    print(f"\nwall time of the run          {wall:8.1f} s")
    print(f"worker-slot time (running)    {slots:8.1f} s")
    print(f"time spent deferred           {sum(deferred.values()):8.1f} s  (triggerer, no worker slot)")
    print(f"Airflow duration sum          {duration_sum:8.1f} s  (spans deferral for deferrable tasks)")
    print(f"worker-slot time / wall time  {100 * slots / wall:8.1f} %  (target <= 10 %)")
    print(
        f"load average (1/5/15 min)     {_load(load_at_start)} at the start, {_load(os.getloadavg())} at the end"
    )
    return 0 if state == "success" else 1


def _load(load: tuple[float, float, float]) -> str:
    return "/".join(f"{x:.1f}" for x in load)


def main() -> int:
    # Ctrl-C, SIGTERM and SIGHUP stop the whole stack (kubesim, Prometheus, Alertmanager, Airflow)
    with tempfile.TemporaryDirectory(prefix="airlock-bench-") as tmp:
        return run_with_stack(Stack(Path(tmp), airflow_port=free_port(), say=lambda _: None), measure)


if __name__ == "__main__":
    sys.exit(main())
