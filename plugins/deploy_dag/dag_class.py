"""AirlockDAG: Airflow's DAG with a hash that costs O(1) instead of O(tasks).

Every dependency (`a >> b`, `set_downstream`) collects the DAGs of both ends in a set, so it hashes the
DAG once per task on either side. The stock `DAG.__hash__` hashes the tuple of all task ids, the schedule
and more on every call: wiring a graph of n tasks cost O(n^2), a third of a service's parse. Two DAGs
that compare equal (DAG.__eq__ compares these attributes, `dag_id` among them) have the same dag_id, so
hashing the dag_id alone keeps hash and equality consistent.
"""

from __future__ import annotations

from airflow.sdk import DAG


class AirlockDAG(DAG):
    def __hash__(self) -> int:
        return hash(self.dag_id)
