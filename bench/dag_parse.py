"""DagBag parse time of the factory with many services (target: 500 services in <= 2 s).

Generates N service specs (variations of the shipped examples) into a temporary dags folder next to
a copy of dags/deploy_services.py, then parses it the way the dag-processor does (a DagBag with
safe mode) and reports the total, the per-service cost and the per-DAG cost. One service is also
parsed alone, side by side, so the fixed import cost and the marginal cost per service are visible.

Each cell is the median of --repeat fresh processes. The spec files' parse cache (airlock.yaml_safe) starts
empty in the temporary folder, as after a change of every spec: the first process fills it, the others
read it, as the dag-processor does at each re-parse of unchanged files; that first, cold parse is printed
too. Wall time is the figure the target is about; the
parse's CPU time (of the parsing process) is printed beside it because on a shared machine other
processes stretch the wall time and barely move the CPU time; the load average is printed too.

    uv run --frozen python bench/dag_parse.py [--services 500]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from demo.stack import exit_code_on_stop_signal  # noqa: E402

EXAMPLES = ["user-api", "payment-service", "recommendation-engine", "demo-api"]

PROBE = textwrap.dedent(
    """
    import json, sys, time
    t0 = time.perf_counter()
    from airflow.dag_processing.dagbag import DagBag
    t1 = time.perf_counter()
    c1 = time.process_time()
    bag = DagBag(dag_folder=sys.argv[1])
    t2 = time.perf_counter()
    print(json.dumps({"import_s": t1 - t0, "parse_s": t2 - t1, "parse_cpu_s": time.process_time() - c1,
                      "dags": len(bag.dag_ids), "errors": len(bag.import_errors)}))
    """
)


def make_folder(root: Path, services: int) -> Path:
    dags = root / "dags"
    (dags / "services").mkdir(parents=True)
    shutil.copy(REPO / "dags" / "deploy_services.py", dags / "deploy_services.py")
    templates = [
        yaml.safe_load((REPO / "dags" / "services" / f"{name}.yaml").read_text()) for name in EXAMPLES
    ]
    for i in range(services):
        spec = dict(templates[i % len(templates)])
        spec["service"] = f"svc-{i:04d}"
        (dags / "services" / f"svc-{i:04d}.yaml").write_text(yaml.safe_dump(spec))
    return dags


def parse(dags: Path) -> dict[str, float]:
    env = {
        **os.environ,
        "AIRLOCK_SPEC_CACHE": str(dags.parent / "spec-cache"),
        "PYTHONPATH": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
    }
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(dags)], env=env, capture_output=True, text=True, check=True
    )
    import json

    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def median_parse(dags: Path, repeat: int) -> dict[str, float]:
    samples = [parse(dags) for _ in range(repeat)]
    median = {key: statistics.median(float(s[key]) for s in samples) for key in samples[0]}
    return {**median, "cold_s": samples[0]["parse_s"], "cold_cpu_s": samples[0]["parse_cpu_s"]}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="airlock-parse-") as tmp:
        one_dags, many_dags = (
            make_folder(Path(tmp) / "one", 1),
            make_folder(Path(tmp) / "many", args.services),
        )
        one, many = median_parse(one_dags, args.repeat), median_parse(many_dags, args.repeat)
    if many["errors"] or one["errors"]:
        print(f"import errors: {many['errors']} (N services), {one['errors']} (1 service)")
        return 1
    services = max(args.services - 1, 1)
    marginal = (many["parse_s"] - one["parse_s"]) / services
    marginal_cpu = (many["parse_cpu_s"] - one["parse_cpu_s"]) / services
    print(f"{'':28} {'1 service':>12} {args.services:>9} services   (median of {args.repeat})")
    print(
        f"{'DAGs bagged':28} {one['dags']:12.0f} {many['dags']:12.0f}   (deploy_<service> each + airlock_follow_up)"
    )
    print(
        f"{'DagBag parse time (wall)':28} {one['parse_s']:11.2f}s {many['parse_s']:11.2f}s   (target <= 2 s)"
    )
    print(f"{'DagBag parse CPU time':28} {one['parse_cpu_s']:11.2f}s {many['parse_cpu_s']:11.2f}s")
    print(
        f"{'first parse, cold spec cache':28} {one['cold_s']:11.2f}s {many['cold_s']:11.2f}s   "
        f"(CPU {one['cold_cpu_s']:.2f} s / {many['cold_cpu_s']:.2f} s)"
    )
    print(f"{'airflow import (excluded)':28} {one['import_s']:11.2f}s {many['import_s']:11.2f}s")
    print(f"marginal cost per service: {marginal * 1000:.1f} ms wall, {marginal_cpu * 1000:.1f} ms CPU")
    print(
        f"load average (1 min) before / after: {load_before:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(exit_code_on_stop_signal(main))  # SIGTERM/SIGHUP too: subprocess.run then kills its probe
