"""The "Dashboard" extra link on Airlock tasks: the service's metrics dashboard (spec.metrics.dashboard).

How links work in Airflow 3: when a task finishes, the worker calls `get_link(operator, ti_key=...)`
on each link in the operator's `operator_extra_links` and stores the result in XCom under
`link.xcom_key`; the UI (API server) never runs our code, it reads that XCom through a generic
XComOperatorLink. So persisting the URL needs no code in execute(): an operator only has to carry the
link, which `DashboardLinkMixin` does. The link is empty (shown disabled) when no dashboard is set.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey


def dashboard_url(spec: Any) -> str:
    """The dashboard URL from a spec dict (as operators hold it) or a ServiceSpec; "" when unset."""
    if isinstance(spec, dict):
        return str((spec.get("metrics") or {}).get("dashboard") or "")
    metrics = getattr(spec, "metrics", None)
    return str(getattr(metrics, "dashboard", None) or "")


class DashboardLink(BaseOperatorLink):
    name = "Dashboard"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return dashboard_url(getattr(operator, "spec", None) or {})


class DashboardLinkMixin:
    """Put first in the bases of any operator that has a `spec` attribute to get the Dashboard link."""

    operator_extra_links: Collection[BaseOperatorLink] = (DashboardLink(),)
