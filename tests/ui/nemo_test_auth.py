"""A test auth manager: Airflow's simple auth manager, except that users named ``outsider*`` may read
no DAG outside ``OUTSIDER_DAGS``.

The simple auth manager grants every role read access to every DAG (per-DAG rules need the FAB auth
manager or teams); this subclass adds one per-DAG rule through the auth manager's own interface
(``is_authorized_dag``, which ``filter_authorized_dag_ids`` also calls), so a test can check that the
plugin asks Airflow rather than deciding itself.
"""

from __future__ import annotations

from typing import Any

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

#: DAGs an outsider may read (none of the Nemo example DAGs).
OUTSIDER_DAGS = frozenset({"some_other_dag"})


class RestrictedAuthManager(SimpleAuthManager):
    def is_authorized_dag(
        self, *, method: Any, user: Any, access_entity: Any = None, details: Any = None
    ) -> bool:
        if str(getattr(user, "username", "")).startswith("outsider"):
            dag_id = getattr(details, "id", None)
            if dag_id not in OUTSIDER_DAGS:
                return False
        return super().is_authorized_dag(
            method=method, user=user, access_entity=access_entity, details=details
        )
