"""The logger shape the client needs, so stdlib loggers and Airflow's structlog loggers both fit."""

from __future__ import annotations

from typing import Any, Protocol


class LoggerLike(Protocol):
    def debug(self, msg: Any, /, *args: Any) -> Any: ...
    def info(self, msg: Any, /, *args: Any) -> Any: ...
    def warning(self, msg: Any, /, *args: Any) -> Any: ...
