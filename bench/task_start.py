"""The parse a task start pays: 1 service vs 500 services, side by side (target: ratio <= 1.3).

A worker re-parses the DAG file at every task start (~35 per run of deploy_<service>), with the
parsing context (`_AIRFLOW_PARSING_CONTEXT_DAG_ID`) naming the DAG being run. With the factory
building only that DAG, the parse must not grow with the number of services in dags/services/.

Generates the specs (bench/dag_parse.py's generator) into a temporary dags folder, then parses
the DAG file in a fresh process per sample, as the worker does, with the context set to one
service's deploy DAG and, for contrast, without a context (the dag-processor's full parse). The
figure is the DagBag parse of the file; the Airflow import before it is the same in every case and
excluded. Each cell is the median of --repeat fresh processes.

    uv run --frozen python bench/task_start.py [--services 500] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from dag_parse import REPO, make_folder  # bench/ is sys.path[0] when run as a script

sys.path.insert(0, str(REPO))
from demo.stack import exit_code_on_stop_signal  # noqa: E402

PROBE = textwrap.dedent(
    """
    import json, sys, time
    from airflow.dag_processing.dagbag import DagBag
    t0, c0 = time.perf_counter(), time.process_time()
    bag = DagBag(dag_folder=sys.argv[1])
    t1, c1 = time.perf_counter(), time.process_time()
    print(json.dumps({"parse_s": t1 - t0, "cpu_s": c1 - c0, "dags": sorted(bag.dag_ids),
                      "errors": len(bag.import_errors)}))
    """
)


def parse_once(dag_file: Path, dag_id: str | None) -> dict[str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dag_file.parent),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
    }
    env.pop("_AIRFLOW_PARSING_CONTEXT_DAG_ID", None)
    env.pop("_AIRFLOW_PARSING_CONTEXT_TASK_ID", None)
    if dag_id is not None:
        env["_AIRFLOW_PARSING_CONTEXT_DAG_ID"] = dag_id
        env["_AIRFLOW_PARSING_CONTEXT_TASK_ID"] = "validate"
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(dag_file)], env=env, capture_output=True, text=True, check=True
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def median_parse(dag_file: Path, dag_id: str | None, repeat: int) -> tuple[float, dict[str, Any]]:
    """The median wall time of `repeat` parses, and the last sample (with the median CPU time in it)."""
    samples = [parse_once(dag_file, dag_id) for _ in range(repeat)]
    last = dict(samples[-1])
    if last["errors"]:
        raise SystemExit(f"{dag_file}: {last['errors']} import error(s) with dag_id={dag_id}")
    last["cpu_s"] = statistics.median(float(s["cpu_s"]) for s in samples)
    return statistics.median(float(s["parse_s"]) for s in samples), last


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="airlock-task-start-") as tmp:
        one = make_folder(Path(tmp) / "one", 1) / "deploy_services.py"
        many = make_folder(Path(tmp) / "many", args.services) / "deploy_services.py"
        # a service from the middle of the folder: neither the first nor the last file in name order
        one_id, many_id = "deploy_svc-0000", f"deploy_svc-{args.services // 2:04d}"
        t_one, bag_one = median_parse(one, one_id, args.repeat)
        t_many, bag_many = median_parse(many, many_id, args.repeat)
        for dag_id, bag in ((one_id, bag_one), (many_id, bag_many)):
            if bag["dags"] != [dag_id]:
                print(f"a task start of {dag_id} bagged {bag['dags']}, expected only {dag_id}")
                return 1
        full_one, bag_full_one = median_parse(one, None, 1)
        full_many, bag_full_many = median_parse(many, None, 1)
    ratio = t_many / t_one
    print(f"{'':34} {'1 service':>12} {args.services:>9} services  ratio")
    print(
        f"{'task start (parsing context set)':34} {t_one * 1000:10.0f}ms {t_many * 1000:10.0f}ms"
        f"  {ratio:5.2f}  (target <= 1.3; median of {args.repeat})"
    )
    cpu_one, cpu_many = bag_one["cpu_s"], bag_many["cpu_s"]
    print(
        f"{'  CPU time of the same parses':34} {cpu_one * 1000:10.0f}ms {cpu_many * 1000:10.0f}ms"
        f"  {cpu_many / cpu_one:5.2f}  (other processes stretch the wall time, hardly this)"
    )
    print(f"{'  DAGs bagged':34} {len(bag_one['dags']):12d} {len(bag_many['dags']):12d}")
    print(
        f"{'full parse (no context), contrast':34} {full_one * 1000:10.0f}ms {full_many * 1000:10.0f}ms"
        f"  {full_many / full_one:5.2f}  (one sample; what every task start paid before)"
    )
    print(f"{'  DAGs bagged':34} {len(bag_full_one['dags']):12d} {len(bag_full_many['dags']):12d}")
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return 0 if ratio <= 1.3 else 1


if __name__ == "__main__":
    sys.exit(exit_code_on_stop_signal(main))  # SIGTERM/SIGHUP too: subprocess.run then kills its probe
