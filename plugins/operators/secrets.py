"""Airflow's secrets masker, applied where Airflow does not apply it.

Airflow masks registered secrets in task logs: connection passwords and extras (registered when a task
reads the connection) and anything given to `mask_secret`. The deployment record (XCom and the DAG run
note) and Slack posts are not logs, so `masked` runs them through the same masker before they leave
the task; a secret quoted in an error message then reaches neither. Secrets Airlock obtains itself
(the REST API token of the record task) are registered with `mask_secret`.
"""

from __future__ import annotations

from typing import TypeVar, cast

# the masker airflow.sdk.log uses (Airflow 3.3 exports `redact` from no public module)
from airflow.sdk._shared.secrets_masker import redact
from airflow.sdk.log import mask_secret

__all__ = ["mask_secret", "masked"]

T = TypeVar("T")


# how deep `masked` looks for secrets in strings (Airflow's default, 5, misses a metric's reason in a
# record: record -> checks -> metrics -> verdict -> metrics -> metric -> reason)
MAX_DEPTH = 64


def masked(value: T) -> T:
    """`value` (a str, or dicts and lists of them) with every registered secret replaced by ***."""
    return cast(T, redact(value, max_depth=MAX_DEPTH))
