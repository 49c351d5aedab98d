"""DAGs for the fault matrix on the distributed deployment (tests/e2e/distributed/test_faults.py).

Short tracks and one-second polls, so each fault costs seconds. Every Nemo call runs in the
``nemo_api`` pool. Each DAG that a test reads the credit ledger for has its own connection (one
nemo_local account each), so the ledger shows that test's charges and nobody else's.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import dag, task, task_group

from nemo_provider.operators.nemo import (
    NemoCreateSessionOperator,
    NemoExportOperator,
    NemoGenerateOperator,
)

POOL = "nemo_api"
EXPORTS = "{{ var.value.nemo_export_destination }}/{{ dag.dag_id }}/{{ run_id | replace(':', '-') | replace('+', '_') }}"
RETRIES = {"retries": 2, "retry_delay": timedelta(seconds=2)}


def _session_and_music(
    conn: str, prompt: str = "calm piano", seconds: int = 4, **generate: Any
) -> tuple[Any, Any]:
    session = NemoCreateSessionOperator(task_id="create_session", nemo_conn_id=conn, pool=POOL, **RETRIES)
    music = NemoGenerateOperator(
        task_id="generate",
        session_id=session.output["session_id"],
        prompt=f"Generate background music: {prompt}. Make it {seconds} seconds long.",
        nemo_conn_id=conn,
        pool=POOL,
        **{**RETRIES, **generate},
    )
    return session, music


def _export(
    task_id: str, session: Any, fmt: str, conn: str, deferrable: bool, **kw: Any
) -> NemoExportOperator:
    return NemoExportOperator(
        task_id=task_id,
        session_id=session.output["session_id"],
        format=fmt,
        destination=EXPORTS
        + f"/{task_id}"
        + "{{ '-%d' % ti.map_index if ti.map_index >= 0 else '' }}."
        + fmt,
        deferrable=deferrable,
        poll_interval=1,
        timeout=600,
        nemo_conn_id=conn,
        pool=POOL,
        **{**RETRIES, **kw},
    )


@dag(dag_id="nemo_fault_export_poll", schedule=None, tags=["nemo", "fault"])
def nemo_fault_export_poll() -> None:
    """(1) A worker is SIGKILLed while this non-deferrable export polls."""
    session, music = _session_and_music("nemo_fault_export")
    music >> _export("export_mp3", session, "mp3", "nemo_fault_export", deferrable=False)


@dag(dag_id="nemo_fault_generate", schedule=None, tags=["nemo", "fault"])
def nemo_fault_generate() -> None:
    """(2) A worker is SIGKILLed while this generate streams."""
    # 60 s, not 4 s: composing then takes long enough that the test sees the credits held (the message
    # accepted, the stream still open) and freezes the service inside that window; with warm composer
    # workers a 4 s track was charged between two 20 ms looks.
    _session_and_music("nemo_fault_generate", prompt="warm acoustic guitar", seconds=60, settle_timeout=90)


@dag(dag_id="nemo_fault_deferred", schedule=None, tags=["nemo", "fault"])
def nemo_fault_deferred() -> None:
    """(3) The triggerer restarts while both exports are deferred; (4) kills of deferred exports."""
    session, music = _session_and_music("nemo_default")
    music >> [
        _export("export_mp3", session, "mp3", "nemo_default", deferrable=True),
        _export("export_wav", session, "wav", "nemo_default", deferrable=True),
    ]


@dag(dag_id="nemo_fault_cancel", schedule=None, tags=["nemo", "fault"])
def nemo_fault_cancel() -> None:
    """(4) This deferred export is marked failed, or its run cancelled, through the REST API."""
    session, music = _session_and_music("nemo_default")
    music >> _export("export_mp3", session, "mp3", "nemo_default", deferrable=True, retries=0)


@dag(dag_id="nemo_fault_service", schedule=None, tags=["nemo", "fault"])
def nemo_fault_service() -> None:
    """(5) nemo_local is killed and restarted while both exports wait (one polling, one deferred)."""
    session, music = _session_and_music("nemo_default")
    music >> [
        _export("export_mp3", session, "mp3", "nemo_default", deferrable=False, max_consecutive_errors=30),
        _export("export_wav", session, "wav", "nemo_default", deferrable=True, max_consecutive_errors=30),
    ]


@dag(dag_id="nemo_fault_batch", schedule=None, tags=["nemo", "fault"], max_active_tasks=16)
def nemo_fault_batch() -> None:
    """(6) A 429 storm during a 12-prompt batch, (7) the scheduler restarted in the middle of it."""

    @task
    def prompts(params: dict[str, Any]) -> list[str]:
        styles = params.get("prompts") or [f"lo-fi study beat number {i}" for i in range(12)]
        return [f"Generate background music: {p}. Make it 3 seconds long." for p in styles]

    @task_group
    def track(prompt: str) -> None:
        session = NemoCreateSessionOperator(
            task_id="create_session", nemo_conn_id="nemo_fault_batch", pool=POOL, retries=4,
            retry_delay=timedelta(seconds=2),
        )  # fmt: skip
        music = NemoGenerateOperator(
            task_id="generate",
            session_id=session.output["session_id"],
            prompt=prompt,
            nemo_conn_id="nemo_fault_batch",
            pool=POOL,
            retries=4,
            retry_delay=timedelta(seconds=2),
        )
        music >> _export("export_mp3", session, "mp3", "nemo_fault_batch", deferrable=False, retries=4,
                         max_consecutive_errors=10)  # fmt: skip

    track.expand(prompt=prompts())


nemo_fault_export_poll()
nemo_fault_generate()
nemo_fault_deferred()
nemo_fault_cancel()
nemo_fault_service()
nemo_fault_batch()
