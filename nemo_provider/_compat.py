"""Airflow names that moved between the supported versions (3.1-3.3), imported from where each has them.

One place for the version differences, so operators, sensors and tests import each name once. Airflow
3.1 (task SDK 1.1) keeps these in ``airflow.exceptions`` / ``airflow.configuration``; 3.2+ exports them
from the task SDK and deprecates the old paths.
"""

from __future__ import annotations

# mypy checks against the newest Airflow, where the fallbacks do not exist
try:
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        TaskDeferred,
    )
except ImportError:  # Airflow 3.1
    from airflow.exceptions import (  # type: ignore[no-redef,attr-defined,unused-ignore]
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        TaskDeferred,
    )
try:
    from airflow.sdk.configuration import conf
except ImportError:  # Airflow 3.1
    from airflow.configuration import conf  # type: ignore[no-redef,attr-defined,unused-ignore]

__all__ = ["AirflowException", "AirflowFailException", "AirflowSensorTimeout", "TaskDeferred", "conf"]
