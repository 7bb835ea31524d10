"""kubesim footprint: start time, memory and CPU with 300 pods, write latency, /metrics cost.

uv run --frozen python bench/kubesim_bench.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from demo.stack import exit_code_on_stop_signal, stop_process_tree  # noqa: E402
from tests.fixtures.kubesim import make_configmap, make_deployment, make_service  # noqa: E402


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubesim", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        start_new_session=True,  # stopped as a group in `finally`, on Ctrl-C, SIGTERM or SIGHUP alike
    )
    try:
        url = proc.stdout.readline().strip().rsplit(" ", 1)[1]
        print(f"start to ready: {time.monotonic() - start:.2f}s, rss {_rss_mib(proc.pid):.0f} MiB")
        requests.put(f"{url}/_sim/scenario", json={"services": {"default/web": {"rps": 100}}}, timeout=10)
        t = time.monotonic()
        requests.post(
            f"{url}/apis/apps/v1/namespaces/default/deployments",
            json=make_deployment("web", image="registry.example/web:1.0", replicas=300),
            timeout=60,
        )
        requests.post(f"{url}/api/v1/namespaces/default/services", json=make_service("web"), timeout=60)
        while True:
            d = requests.get(f"{url}/apis/apps/v1/namespaces/default/deployments/web", timeout=10).json()
            if d.get("status", {}).get("availableReplicas") == 300:
                break
            time.sleep(0.1)
        print(f"300 pods available in {time.monotonic() - t:.2f}s, rss {_rss_mib(proc.pid):.0f} MiB")
        t = time.monotonic()
        for i in range(20):
            requests.post(
                f"{url}/api/v1/namespaces/default/configmaps", json=make_configmap(f"c{i}", {}), timeout=10
            )
        print(f"write latency with 300 pods: {(time.monotonic() - t) / 20 * 1000:.1f} ms")
        t = time.monotonic()
        pods = requests.get(f"{url}/api/v1/namespaces/default/pods", timeout=10).json()
        print(f"list 300 pods: {(time.monotonic() - t) * 1000:.1f} ms ({len(pods['items'])} items)")
        t = time.monotonic()
        requests.post(f"{url}/_sim/clock", json={"advance_seconds": 86400}, timeout=60)
        print(f"advance 1 day at 100 rps over 300 pods: {time.monotonic() - t:.2f}s")
        t = time.monotonic()
        text = requests.get(f"{url}/metrics", timeout=10).text
        print(f"/metrics: {(time.monotonic() - t) * 1000:.1f} ms, {len(text) // 1024} KiB")
        cpu0 = _cpu_seconds(proc.pid)
        time.sleep(10)
        print(
            f"idle CPU over 10 s: {(_cpu_seconds(proc.pid) - cpu0) * 10:.2f}% of one core, "
            f"rss {_rss_mib(proc.pid):.0f} MiB"
        )
    finally:
        stop_process_tree(proc, grace=10)
    return 0


if __name__ == "__main__":
    sys.exit(exit_code_on_stop_signal(main))
