"""`make demo`: two deployments of demo-api through a real Airflow, on embedded defaults.

1. v2 as a canary (healthy): steps 25 % -> 50 % -> promote, each judged against the stable baseline.
2. v3 as a canary (~6 % errors): the judge fails the first step and Airlock rolls back on its own.
Progress is read from Airflow's REST API, the way any user or CI would drive Airlock.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from demo.progress import RunWatcher, summary_table
from demo.slack_standin import message_text, shown
from demo.stack import REPO, Stack, run_with_stack, say

DAG_ID = "deploy_demo-api"
RUNS = [
    {
        "version": "v2",
        "strategy": "canary",
        "change_summary": "Faster item listing (cache warm-up)",
        "window": "now",
    },
    # A hotfix skips the staging soak (recorded as such) - so only the production canary stands
    # between v3's ~6 % errors and every user.
    {
        "version": "v3",
        "strategy": "canary",
        "change_summary": "Hotfix: new inventory client",
        "window": "now",
        "risk": "hotfix",
    },
]


def on_slack(payload: dict[str, Any]) -> None:
    # the webhook's plain `text` is the one-line summary; the blocks repeat it with fields
    text = shown(str(payload.get("text") or message_text(payload))).replace("\n", "\n          ")
    say(f"  [slack] {text}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument("--workdir", type=Path, default=REPO / ".demo")
    parser.add_argument(
        "--keep-up",
        choices=["auto", "yes", "no"],
        default="auto",
        help="keep Airflow running after the runs so you can browse the logs (auto: if a TTY)",
    )
    args = parser.parse_args(argv)
    say("Airlock demo: kubesim (Kubernetes API) + Prometheus + Alertmanager + Airflow standalone\n")
    started = time.monotonic()

    def demo(stack: Stack) -> int:
        assert stack.api is not None
        api = stack.api
        api.wait_for_dag(DAG_ID)
        for error in api.import_errors():
            say(f"  import error in {error.get('filename')}: {error.get('stack_trace', '')[:300]}")
        api.unpause(DAG_ID)
        say(f"\nUnpaused {DAG_ID}. Production runs demo-api v1 on 6 pods at ~20 req/s.\n")
        results = []
        for conf in RUNS:
            kind = " as a HOTFIX (staging soak skipped)" if conf.get("risk") == "hotfix" else ""
            say(
                f"=== Triggering {DAG_ID} {conf['version']} ({conf['strategy']}){kind} through the REST API ==="
            )
            run = api.trigger(DAG_ID, conf)
            watcher = RunWatcher(api, DAG_ID, run["dag_run_id"], kubesim_url=stack.kubesim_url, say=say)
            results.append(watcher.follow(timeout=420))
            say("")
        say(summary_table(results))
        say(f"\nTotal demo time: {time.monotonic() - started:.0f} s")
        url = f"http://127.0.0.1:{stack.airflow_port}"
        say(f"Airflow UI: {url}  (login admin / {stack.password})")
        say(f"  task logs: {url}/dags/{DAG_ID}/runs  -> pick a run -> a task -> Logs")
        keep_up = args.keep_up == "yes" or (args.keep_up == "auto" and sys.stdin.isatty())
        if keep_up:
            say("The stack stays up so you can read the logs. Press Ctrl-C to stop everything.")
            while True:
                time.sleep(3600)
        ok = [r.outcome for r in results] == ["deployed", "rolled back"]
        say(
            "Demo finished as expected."
            if ok
            else "Demo finished, but the outcomes were not the expected ones."
        )
        return 0 if ok else 1

    # Ctrl-C, SIGTERM and SIGHUP (a closed terminal) stop every process the demo started, also when
    # stdout is a pipe whose reader died (`make demo | tee demo.log`)
    return run_with_stack(Stack(args.workdir, say=say, on_slack=on_slack), demo, say)


if __name__ == "__main__":
    sys.exit(main())
