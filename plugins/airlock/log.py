"""The logger the core writes to: a `logging.Logger`, or the task's logger when an Airflow adapter passes it.

A Protocol rather than `logging.Logger` because Airflow 3's task logger (structlog-based) is not one;
both accept `info("... %s", value)`.
"""

from __future__ import annotations

from typing import Any, Protocol


class Log(Protocol):
    def debug(self, msg: Any, /, *args: Any) -> Any: ...

    def info(self, msg: Any, /, *args: Any) -> Any: ...

    def warning(self, msg: Any, /, *args: Any) -> Any: ...

    def error(self, msg: Any, /, *args: Any) -> Any: ...
