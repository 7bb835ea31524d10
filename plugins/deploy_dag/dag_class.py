"""AirlockDAG: Airflow's DAG with a hash that costs O(1) instead of O(tasks).

Every dependency (`a >> b`, `set_downstream`) collects the DAGs of both ends in a set, so it hashes the
DAG once per task on either side. The stock `DAG.__hash__` hashes the tuple of all task ids, the schedule
and more on every call: wiring a graph of n tasks cost O(n^2), a third of a service's parse. Two DAGs
that compare equal (DAG.__eq__ compares these attributes, `dag_id` among them) have the same dag_id, so
hashing the dag_id alone keeps hash and equality consistent.

It also runs `dag.test()` (and so `airflow dags test`) without the DAG's deadline alert: see `test`.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG


class AirlockDAG(DAG):
    def __hash__(self) -> int:
        return hash(self.dag_id)

    def test(self, *args: Any, **kwargs: Any) -> Any:
        """`DAG.test()` without the deadline alert (the overdue Slack message).

        Airflow 3.3's `dag.test()` schedules a DAG rebuilt from its own serialization, whose `deadline`
        still holds the serialized alerts where the scheduler's code expects the ids the dag-processor
        stores; `DagRun.update_state` then fails on the first successful run ("'dict' object has no
        attribute 'hex'"). `dag.test()` runs no scheduler loop that could fire a deadline, so dropping
        it for the test run loses nothing; the scheduled DAG keeps it.
        """
        deadline = self.deadline
        self.deadline = None
        try:
            return super().test(*args, **kwargs)
        finally:
            self.deadline = deadline
