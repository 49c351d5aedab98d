"""Child processes die with their parent, and a previous server's leftovers are swept at start-up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from nemo_local.media import children


def _gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def test_start_time_identifies_a_process() -> None:
    assert children.start_time(os.getpid()) == children.start_time(os.getpid())
    assert children.start_time(os.getpid()) is not None
    assert children.start_time(2**22 + 12345) is None


@pytest.mark.parametrize(
    "start",
    [
        "p = subprocess.Popen(['sleep', '60'], preexec_fn=children.die_with_parent_preexec())",
        "cmd, pre = children.dying_with_parent(['sleep', '60'])\np = subprocess.Popen(cmd, preexec_fn=pre)",
    ],
    ids=["preexec", "setpriv-or-preexec"],
)
def test_grandchild_dies_when_its_parent_is_killed(tmp_path: Path, start: str) -> None:
    """A process starts `sleep` with the death signal and is SIGKILLed: the sleep dies too."""
    script = (
        "import subprocess, sys, time\n"
        "from nemo_local.media import children\n"
        f"{start}\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    sleeper = int(parent.stdout.readline())
    # with setpriv the signal is set by setpriv just before it execs the command: wait for that (a
    # parent killed in the microseconds before is the case the start-up sweep is there for)
    deadline = time.monotonic() + 10
    while psutil.Process(sleeper).name() != "sleep" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert psutil.Process(sleeper).name() == "sleep"
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)
    assert _gone(sleeper), "the child outlived its SIGKILLed parent"


def test_sweep_kills_leftovers_of_a_dead_server_only(tmp_path: Path) -> None:
    record = tmp_path / "children"
    record.mkdir()
    orphan = subprocess.Popen(["sleep", "60"])  # no death signal: stands for a child that slipped through
    bystander = subprocess.Popen(["sleep", "60"])
    live_server = subprocess.Popen(["sleep", "60"])
    dead_server = subprocess.Popen(["true"])
    dead_server.wait()
    try:

        def entry(pid: int, server: int) -> None:
            body = {"pid": pid, "start": children.start_time(pid), "kind": "ffmpeg", "server_pid": server}
            body["server_start"] = children.start_time(server) or 1
            (record / f"{pid}-{body['start']}.json").write_text(json.dumps(body))

        entry(orphan.pid, dead_server.pid)
        entry(bystander.pid, live_server.pid)  # its server still runs: not ours to kill
        stale = {"pid": os.getpid(), "start": 1, "kind": "ffmpeg", "server_pid": dead_server.pid}
        (record / f"{os.getpid()}-1.json").write_text(json.dumps(stale))  # pid reused: start time differs
        (record / "broken.json").write_text("{")

        killed = children.sweep(record)

        assert killed == [orphan.pid]
        assert orphan.wait(timeout=10) == -signal.SIGKILL
        assert bystander.poll() is None
        assert sorted(p.name for p in record.iterdir()) == [
            f"{bystander.pid}-{children.start_time(bystander.pid)}.json"
        ]
    finally:
        for proc in (orphan, bystander, live_server):
            proc.kill()
            proc.wait()
