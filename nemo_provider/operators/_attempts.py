"""Remember what a task started on the Nemo service, across the task's tries.

Airflow wipes a task instance's XComs when a new try starts, so an id pushed to XCom by try 1 is gone
by try 2. A retry that wants to resume the render (or recognise the message) that try 1 started needs a
record that outlives the try. On Airflow 3.3+ that is the task instance's ``task_state_store`` (the
store ``ResumableJobMixin`` uses); on 3.1/3.2 an Airflow Variable keyed by the task instance's identity
(dag, run, task, map index) — never by the try number. A record holds ids and hashes only, never a token.
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol


class RecordBackend(Protocol):
    """Where records live; Airflow Variables in production, a dict in unit tests."""

    def get(self, key: str) -> dict[str, Any] | None: ...
    def set(self, key: str, value: dict[str, Any], description: str) -> None: ...
    def delete(self, key: str) -> None: ...


class VariableBackend:
    """Records as JSON Airflow Variables, through the task SDK (works on workers and in dag.test)."""

    def get(self, key: str) -> dict[str, Any] | None:
        from airflow.sdk import Variable

        value = Variable.get(key, default=None, deserialize_json=True)
        return value if isinstance(value, dict) else None

    def set(self, key: str, value: dict[str, Any], description: str) -> None:
        from airflow.sdk import Variable

        Variable.set(key, value, description=description, serialize_json=True)

    def delete(self, key: str) -> None:
        from airflow.sdk import Variable

        Variable.delete(key)


class InMemoryBackend:
    """A dict-backed backend: unit tests, and a place to see what the operators would store."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        return self.records.get(key)

    def set(self, key: str, value: dict[str, Any], description: str) -> None:
        self.records[key] = dict(value)

    def delete(self, key: str) -> None:
        self.records.pop(key, None)


class TaskStateStoreBackend:
    """Airflow 3.3's per-task-instance store, which survives retries and is cleaned up by Airflow."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def get(self, key: str) -> dict[str, Any] | None:
        value = self._store.get(key)
        return value if isinstance(value, dict) else None

    def set(self, key: str, value: dict[str, Any], description: str) -> None:
        self._store.set(key, value)

    def delete(self, key: str) -> None:
        self._store.delete(key)


class RecordStore(Protocol):
    """What the state machines (``_message_once``, ``_render_job``) need of a store: TaskAttemptStore, or a fake."""

    def load(self) -> dict[str, Any] | None: ...
    def save(self, record: dict[str, Any]) -> None: ...
    def clear(self) -> None: ...


#: Used when the context has no ``task_state_store`` (Airflow < 3.3). Replaced in unit tests (``monkeypatch.setattr(_attempts, "default_backend", InMemoryBackend())``).
default_backend: RecordBackend = VariableBackend()


class TaskAttemptStore:
    """The record of one kind (``render``, ``message``) for one task instance."""

    def __init__(self, context: Any, kind: str, backend: RecordBackend | None = None) -> None:
        ti = context["ti"]
        map_index = getattr(ti, "map_index", -1)
        if map_index is None:
            map_index = -1
        self.identity = f"{ti.dag_id}/{ti.run_id}/{ti.task_id}/{map_index}"
        digest = hashlib.sha256(self.identity.encode()).hexdigest()[:24]
        self.key = f"nemo_provider.{kind}.{digest}"
        self.kind = kind
        self.try_number = int(getattr(ti, "try_number", 0) or 0)
        state_store = context.get("task_state_store") if hasattr(context, "get") else None
        if backend is None and state_store is not None:
            backend = TaskStateStoreBackend(state_store)
            self.key = f"nemo_provider.{kind}"  # the store is already scoped to this task instance
        self._backend = backend

    @property
    def backend(self) -> RecordBackend:
        return self._backend if self._backend is not None else default_backend

    def load(self) -> dict[str, Any] | None:
        return self.backend.get(self.key)

    def save(self, record: dict[str, Any]) -> None:
        record = {**record, "try_number": self.try_number}
        self.backend.set(
            self.key, record, f"airflow-provider-nemo: {self.kind} started by {self.identity} (resume state)"
        )

    def clear(self) -> None:
        self.backend.delete(self.key)
