"""The fault matrix on the distributed deployment: "nothing lost, nothing done twice".

Each test breaks one part of the running system while a DAG run is in flight, then checks Airflow's
task states (through the REST API) and what the service really did (nemo_local's own database: renders
per session and format, the credit ledger of the DAG's own account). The DAGs are in ``dags/``.
Tests run in file order on one deployment; each restores what it broke before the next starts.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

from nemo_local.config import GENERATE_COST

from .deployment import NEMO_POOL_SLOTS, WORKERS, Deployment, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(420)]


def _other(host: str) -> str:
    return next(w for w in WORKERS if w != host)


def _session(d: Deployment, dag_id: str, run_id: str, map_index: int = -1) -> str:
    return str(d.xcom(dag_id, run_id, "create_session" if map_index < 0 else "track.create_session",
                      "session_id", map_index=map_index))  # fmt: skip


def _render_id(d: Deployment, dag_id: str, run_id: str, task_id: str) -> str:
    return str(
        wait_for(f"{task_id}'s render id in XCom", lambda: d.xcom(dag_id, run_id, task_id, "render_id"), 60)
    )


def _wait_trigger_running(d: Deployment, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> None:
    """`deferred` only means the trigger row exists; this waits until a triggerer really runs it."""
    d.wait_ti(dag_id, run_id, task_id, ("deferred",), 180)
    d.wait_log(f"the triggerer to run {task_id}'s trigger", dag_id, run_id, task_id, "Waiting for render",
               try_number, timeout=120)  # fmt: skip


def _restore_worker(d: Deployment, name: str) -> None:
    if not d.procs[name].alive():
        d.restart(name)


# -- (1) and (2): one worker kill ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def worker_kill(stack: Deployment) -> dict[str, Any]:
    """Both faults with one SIGKILL: worker-b is stopped, so the polling export (1) and the streaming
    generate (2) both run on worker-a; worker-a is killed with both in flight; worker-b comes back and
    takes the retries: "the other worker", a machine that shares no /tmp with the first."""
    d = stack
    victim, survivor = WORKERS
    before = {a: d.charges(a) for a in ("fault_export", "fault_generate")}
    d.procs[survivor].stop()  # a warm shutdown: nothing runs there now
    d.faults(render_stuck=True)  # the render stays `processing`: the export polls when the kill lands
    nemo = d.procs["nemo"]
    try:
        export_run = d.trigger("nemo_fault_export_poll")
        d.wait_ti("nemo_fault_export_poll", export_run, "export_mp3", ("running",), 180)
        render_id = _render_id(d, "nemo_fault_export_poll", export_run, "export_mp3")
        wait_for("the render to be processing", lambda: d.render(render_id) == "processing", 60)
        generate_run = d.trigger("nemo_fault_generate")
        d.wait_ti("nemo_fault_generate", generate_run, "generate", ("running",), 180)
        # The service accepted the message once it holds its credits; freeze the service right then,
        # so the stream is open and unfinished when the worker dies.
        wait_for("the service to accept the message", lambda: d.held("fault_generate") == 1, 60, 0.02)
        os.kill(nemo.pid, signal.SIGSTOP)
        try:
            assert d.charges("fault_generate") == before["fault_generate"], "the message had already finished"
            hosts = {d.task_instance(dag, run, task)["hostname"] for dag, run, task in (
                ("nemo_fault_export_poll", export_run, "export_mp3"), ("nemo_fault_generate", generate_run, "generate"))}  # fmt: skip
            assert hosts == {victim}, hosts
            d.kill_worker(victim)
        finally:
            os.kill(nemo.pid, signal.SIGCONT)  # the agent finishes the accepted message, stream or not
        d.restart(survivor)

        def retried(dag: str, run: str, task: str) -> bool:
            ti = d.task_instance(dag, run, task)
            return bool(ti["try_number"] >= 2 and ti["state"] in ("running", "success"))

        wait_for(
            "the export's retry", lambda: retried("nemo_fault_export_poll", export_run, "export_mp3"), 150, 1
        )
        wait_for(
            "the generate's retry", lambda: retried("nemo_fault_generate", generate_run, "generate"), 150, 1
        )
    finally:
        d.faults(render_stuck=False)
        _restore_worker(d, survivor)
        _restore_worker(d, victim)
    states = {dag: d.wait_run(dag, run, 240) for dag, run in (("nemo_fault_export_poll", export_run),
                                                               ("nemo_fault_generate", generate_run))}  # fmt: skip
    return {"export_run": export_run, "generate_run": generate_run, "render_id": render_id, "states": states,
            "before": before, "victim": victim, "survivor": survivor}  # fmt: skip


def test_1_worker_killed_while_an_export_polls_resumes_on_the_other_worker(
    stack: Deployment, worker_kill: dict[str, Any]
) -> None:
    d, dag, run = stack, "nemo_fault_export_poll", worker_kill["export_run"]
    render_id = worker_kill["render_id"]
    assert worker_kill["states"][dag] == "success", d.task_instances(dag, run)
    tries = d.tries(dag, run, "export_mp3")
    assert [t["hostname"] for t in tries] == [worker_kill["victim"], worker_kill["survivor"]], tries
    assert tries[0]["state"] == "failed" and tries[-1]["state"] == "success", tries
    assert f"Resuming render {render_id}" in d.task_log(
        dag, run, "export_mp3", try_number=tries[-1]["try_number"]
    )
    session = _session(d, dag, run)
    assert d.renders(session) == [(render_id, "mp3", "completed")], "one render job, resumed, not restarted"
    spent = d.charges("fault_export")[len(worker_kill["before"]["fault_export"]) :]
    assert spent == [-GENERATE_COST], "one charge: the generate"
    out = d.xcom(dag, run, "export_mp3")
    assert out["path"].startswith(d.bucket_uri + "/") and out["render_id"] == render_id


def test_2_worker_killed_while_a_generate_streams_does_not_resend(
    stack: Deployment, worker_kill: dict[str, Any]
) -> None:
    d, dag, run = stack, "nemo_fault_generate", worker_kill["generate_run"]
    assert worker_kill["states"][dag] == "success", d.task_instances(dag, run)
    tries = d.tries(dag, run, "generate")
    assert [t["hostname"] for t in tries] == [worker_kill["victim"], worker_kill["survivor"]], tries
    retry_log = d.task_log(dag, run, "generate", try_number=tries[-1]["try_number"])
    assert "already sent this message" in retry_log and "Sending the message" not in retry_log, retry_log[
        -3000:
    ]
    session = _session(d, dag, run)
    assert d.media_count(session) == 1, "the agent ran the message once"
    spent = d.charges("fault_generate")[len(worker_kill["before"]["fault_generate"]) :]
    assert spent == [-GENERATE_COST], "one charge for one message"
    assert len(d.xcom(dag, run, "generate")["generated_media"]) == 1


# -- (4) after the triggerer picked the trigger up ---------------------------------------------------
def test_4_killing_deferred_exports_after_pickup_cancels_their_renders(stack: Deployment) -> None:
    d, dag = stack, "nemo_fault_cancel"
    d.faults(render_stuck=True)
    try:
        marked, cancelled = d.trigger(dag), d.trigger(dag)
        ids = {}
        for run in (marked, cancelled):
            _wait_trigger_running(d, dag, run, "export_mp3")
            ids[run] = _render_id(d, dag, run, "export_mp3")
            assert d.render(ids[run]) == "processing"
        url = f"/api/v2/dags/{dag}/dagRuns"
        d.http.patch(
            f"{url}/{marked}/taskInstances/export_mp3", json={"new_state": "failed"}
        ).raise_for_status()
        d.http.patch(f"{url}/{cancelled}", json={"state": "failed"}).raise_for_status()
        killed_at = time.monotonic()
        for run in (marked, cancelled):
            wait_for(f"render {ids[run]} to be cancelled", lambda r=run: d.render(ids[r]) == "cancelled", 40)
        took = time.monotonic() - killed_at
    finally:
        d.faults(render_stuck=False)
    assert took < 40
    for run in (marked, cancelled):
        assert d.ti_state(dag, run, "export_mp3") == "failed"
        assert d.run_state(dag, run) == "failed"
        assert d.renders(_session(d, dag, run)) == [(ids[run], "mp3", "cancelled")]


# -- (3) and (4) before pickup -----------------------------------------------------------------------
def test_3_triggerer_restart_resumes_deferred_exports_and_4_kills_before_pickup_leave_nothing_running(
    stack: Deployment,
) -> None:
    """The triggerer goes down under two deferred exports; while it is down (no code of ours runs for a
    deferred task then), two more exports defer and are killed through REST, one marked failed, one by
    cancelling its run. Back up, the triggerer resumes the first two; the killed ones leave nothing
    running (their render never starts, or is cancelled by the trigger's on_kill within seconds)."""
    d = stack
    d.faults(render_stuck=True)
    try:
        run = d.trigger("nemo_fault_deferred")
        for task_id in ("export_mp3", "export_wav"):
            _wait_trigger_running(d, "nemo_fault_deferred", run, task_id)
        ids = {t: _render_id(d, "nemo_fault_deferred", run, t) for t in ("export_mp3", "export_wav")}
        d.procs["triggerer"].stop()  # SIGTERM: the triggerer shuts down, leaving the renders running

        marked, cancelled = d.trigger("nemo_fault_cancel"), d.trigger("nemo_fault_cancel")
        early = {}
        for c in (marked, cancelled):
            d.wait_ti("nemo_fault_cancel", c, "export_mp3", ("deferred",), 180)
            early[c] = _render_id(d, "nemo_fault_cancel", c, "export_mp3")
        url = "/api/v2/dags/nemo_fault_cancel/dagRuns"
        d.http.patch(
            f"{url}/{marked}/taskInstances/export_mp3", json={"new_state": "failed"}
        ).raise_for_status()
        d.http.patch(f"{url}/{cancelled}", json={"state": "failed"}).raise_for_status()

        d.start_component("triggerer")
        d.wait_healthy()
    finally:
        d.faults(render_stuck=False)
    assert d.wait_run("nemo_fault_deferred", run, 180) == "success", d.task_instances(
        "nemo_fault_deferred", run
    )

    session = _session(d, "nemo_fault_deferred", run)
    assert sorted(d.renders(session)) == sorted((ids[t], t[-3:], "completed") for t in ids), "one render each"
    for task_id in ids:
        log = d.task_log("nemo_fault_deferred", run, task_id)
        assert "already exists (a restarted trigger)" in log, log[-3000:]
        assert [t["try_number"] for t in d.tries("nemo_fault_deferred", run, task_id)] == [1]
    # The killed exports leave nothing running: their render was never started, or (when the new
    # triggerer started the trigger before Airflow cleaned it up) it was cancelled by on_kill at once.
    for c in (marked, cancelled):
        assert d.run_state("nemo_fault_cancel", c) == "failed"
        assert d.ti_state("nemo_fault_cancel", c, "export_mp3") == "failed"
        session = _session(d, "nemo_fault_cancel", c)

        def settled(s: str = session) -> bool:
            return all(status == "cancelled" for _, _, status in d.renders(s))

        wait_for(f"the killed export's render {early[c]} to be cancelled", settled, 40)
        assert [r for r in d.renders(session) if r[0] != early[c]] == [], "only the planned render id is used"


# -- (5) ---------------------------------------------------------------------------------------------
def test_5_service_killed_and_restarted_mid_render_tasks_ride_it_out(stack: Deployment) -> None:
    d, dag = stack, "nemo_fault_service"
    d.faults(render_stuck=True)  # (a restarted server starts with every fault off)
    run = d.trigger(dag)
    d.wait_ti(dag, run, "export_mp3", ("running",), 180)
    _wait_trigger_running(d, dag, run, "export_wav")
    ids = {t: _render_id(d, dag, run, t) for t in ("export_mp3", "export_wav")}
    wait_for(
        "both renders to be processing", lambda: all(d.render(i) == "processing" for i in ids.values()), 60
    )
    d.procs["nemo"].stop(signal.SIGKILL)
    try:
        d.wait_log(
            "the polling export to see the outage", dag, run, "export_mp3", "Polling render", timeout=90
        )
        d.wait_log("the trigger to see the outage", dag, run, "export_wav", "Polling render", timeout=90)
    finally:
        d.start_nemo()
    assert d.wait_run(dag, run, 240) == "success", d.task_instances(dag, run)
    session = _session(d, dag, run)
    assert sorted(d.renders(session)) == sorted((i, t[-3:], "completed") for t, i in ids.items())
    for task_id in ids:
        assert [t["try_number"] for t in d.tries(dag, run, task_id)] == [1], "rode it out in one try"


# -- (6) and (7) -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def storm_batch(stack: Deployment) -> dict[str, Any]:
    """One 12-prompt batch run: a 429 storm once its first generate runs, the scheduler restarted once a
    third of its exports are done."""
    d, dag = stack, "nemo_fault_batch"
    charged_before = d.charges("fault_batch")
    run = d.trigger(dag)

    def states(task_id: str) -> list[str]:
        return [t["state"] for t in d.task_instances(dag, run) if t["task_id"] == task_id]

    wait_for("the batch's first generate", lambda: "running" in states("track.generate"), 180)
    storm = 40
    d.faults(burst_429=storm)
    wait_for("a third of the exports", lambda: states("track.export_mp3").count("success") >= 4, 300, 1)
    old_pid = d.procs["scheduler"].pid
    restarted_at = time.time()
    d.restart("scheduler")
    assert d.procs["scheduler"].pid != old_pid
    state = d.wait_run(dag, run, 360)
    return {"run": run, "state": state, "storm": storm, "restarted_at": restarted_at,
            "charged_before": charged_before}  # fmt: skip


def _nemo_tis(d: Deployment, run: str) -> list[dict[str, Any]]:
    return [t for t in d.task_instances("nemo_fault_batch", run) if t["pool"] == "nemo_api"]


def test_6_a_429_storm_during_a_batch_fails_nothing_and_the_pool_caps_concurrency(
    stack: Deployment, storm_batch: dict[str, Any]
) -> None:
    d, run = stack, storm_batch["run"]
    tis = _nemo_tis(d, run)
    assert storm_batch["state"] == "success", [(t["task_id"], t["map_index"], t["state"]) for t in tis]
    assert len(tis) == 36 and {t["state"] for t in tis} == {"success"}
    assert d.faults()["burst_429"] == 0, "every injected 429 was served to the batch"
    # the pool: never more Nemo calls at once than its slots
    edges = sorted([(_ts(t["start_date"]), 1) for t in tis] + [(_ts(t["end_date"]), -1) for t in tis])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    assert 2 <= peak <= NEMO_POOL_SLOTS, peak


def test_7_scheduler_restarted_mid_run_completes_and_resubmits_nothing(
    stack: Deployment, storm_batch: dict[str, Any]
) -> None:
    d, run = stack, storm_batch["run"]
    assert storm_batch["state"] == "success"
    tis = _nemo_tis(d, run)
    assert any(_ts(t["start_date"]) > storm_batch["restarted_at"] for t in tis), "the run spanned the restart"
    assert any(_ts(t["end_date"]) < storm_batch["restarted_at"] for t in tis)
    for i in range(12):
        session = _session(d, "nemo_fault_batch", run, map_index=i)
        assert d.media_count(session) == 1, f"track {i}: the message was sent once"
        assert [(f, s) for _, f, s in d.renders(session)] == [("mp3", "completed")], f"track {i}: one render"
    spent = d.charges("fault_batch")[len(storm_batch["charged_before"]) :]
    assert spent == [-GENERATE_COST] * 12, spent


def _ts(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
