"""Airflow DAG factory: one `deploy_<service>` DAG per dags/services/<service>.yaml, and `airlock_follow_up`.

(The words "airflow" and "dag" in this file matter: Airflow's safe-mode discovery skips .py files
that contain neither.)

Parsing is cheap and offline: it reads YAML and builds tasks, no network or cluster call. An invalid
service file does not stop the others: its errors (file, field, value, what is allowed) surface as
this file's import error through a sentinel DAG, while every valid service still loads.

A worker re-parses this file at every task start (~35 per run): the parsing context names the DAG
being run, and only that one is built (from `<service>.yaml`), so a task start costs the same with 1
service or 500. The dag-processor parses without a context and builds everything.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

SERVICES_DIR = Path(__file__).resolve().parent / "services"


def _dags() -> dict[str, Any]:
    from airflow.sdk import get_parsing_context

    from deploy_dag.factory import build_dags

    return build_dags(SERVICES_DIR, dag_id=get_parsing_context().dag_id)


# The cyclic garbage collector is held off while this file runs, imports included (the factory holds it
# off for the build, deploy_dag.factory._without_gc_pauses, but a full collection triggered by importing
# Airlock's modules rescanned Airflow's whole heap too: 0.14 s of each parse, with nothing to free).
# What the file built then goes straight to the oldest generation (freeze + unfreeze moves every tracked
# object there), where it belongs: it lives as long as the DAGs do. Left in the youngest, the first
# collection after this file rescanned all of it (0.1 s of a 500-service parse) to find it all alive.
# It stays collectable. A process that froze its heap (Airflow's dag-processor does before it forks the
# parsing processes) is left as it is: unfreezing would thaw that heap too.
_collecting = gc.isenabled()
gc.disable()
try:
    globals().update(_dags())
finally:
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()
    if _collecting:
        gc.enable()
