"""Child processes that die with the server, and a record of them that the next server sweeps.

Two layers, because either alone leaks: ``PR_SET_PDEATHSIG`` makes the kernel SIGKILL a child (ffmpeg,
composer workers) the moment the server process (strictly: the thread that started it) dies, even of
SIGKILL; and every child is recorded as ``<pid>-<start time>.json`` in the data dir's ``run/children``
folder, so a server starting on that data dir kills whatever a previous one left running (a child started
in the instant before its parent died, or on a system without prctl). The start time (clock ticks since
boot, from /proc) makes sure a recycled pid is never killed by mistake.

The record is configured once per server (:func:`configure`); library use without a server (tests, the
CLI) only gets the death signal.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import logging
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

log = logging.getLogger("nemo_local.children")
_PR_SET_PDEATHSIG = 1
_ENV = "NEMO_LOCAL_CHILDREN_DIR"  # inherited by spawned workers, so they can record themselves

try:
    _prctl: Callable[..., int] | None = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux
    _prctl = None

_lock = threading.Lock()
_dir: Path | None = None


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        return int(fields[19])  # fields after "pid (comm)" start at field 3
    except (IndexError, ValueError):
        return None


def _alive(pid: int, started: int | None) -> bool:
    return started is not None and start_time(pid) == started


@functools.lru_cache(maxsize=1)
def _setpriv() -> str | None:
    """util-linux's setpriv, if it knows --pdeathsig (it sets the signal, then execs the command)."""
    found = shutil.which("setpriv")
    if not found:
        return None
    try:
        usage = subprocess.run([found, "--help"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return found if "--pdeathsig" in usage else None


def dying_with_parent(cmd: Sequence[str]) -> tuple[list[str], Callable[[], None] | None]:
    """(command, preexec_fn) for Popen so the child gets SIGKILL when its parent dies.

    ``setpriv --pdeathsig KILL -- cmd`` when available: the process is then started with vfork, which
    stays quick however large the server is (a preexec_fn forces a full fork: ~7 ms for a 200 MB
    process, and it runs Python code between fork and exec). Otherwise the prctl preexec_fn. With
    setpriv, a server killed in the microseconds between fork and setpriv's prctl leaves that one child
    to the start-up sweep (the preexec_fn closes that gap itself by checking its parent after prctl)."""
    setpriv = _setpriv()
    if setpriv is not None:
        return [setpriv, "--pdeathsig", "KILL", "--", *cmd], None
    return list(cmd), die_with_parent_preexec()


def die_with_parent_preexec() -> Callable[[], None] | None:
    """A ``preexec_fn`` for subprocess.Popen: the child gets SIGKILL when its parent dies. It runs between
    fork and exec, so it only calls prctl (resolved in advance) and never allocates locks."""
    if _prctl is None:
        return None
    prctl = _prctl
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


def die_with_parent() -> None:
    """For a process that starts itself (a multiprocessing worker's initializer): set the death signal
    now, exit if the parent is already gone, and record this process when the server keeps a record."""
    parent = os.getppid()
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(0)
    folder = os.environ.get(_ENV)
    if folder:
        _write(Path(folder), os.getpid(), "worker", parent)


def _entry_name(pid: int, started: int) -> str:
    return f"{pid}-{started}.json"


def _write(folder: Path, pid: int, kind: str, server_pid: int) -> None:
    started = start_time(pid)
    if started is None:
        return
    record = {"pid": pid, "start": started, "kind": kind, "server_pid": server_pid}
    record["server_start"] = start_time(server_pid)
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{_entry_name(pid, started)}.tmp"
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, folder / _entry_name(pid, started))


def configure(folder: Path) -> None:
    """Keep the record in ``folder`` from now on (the server calls this once, before starting children)."""
    global _dir
    with _lock:
        _dir = folder
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[_ENV] = str(folder)


def unconfigure(folder: Path) -> None:
    """Stop recording into ``folder`` (a server stopping; in-process tests start several in turn)."""
    global _dir
    with _lock:
        if _dir == folder:
            _dir = None
            if os.environ.get(_ENV) == str(folder):
                del os.environ[_ENV]


def record(pid: int, kind: str) -> None:
    """Note a child this process started (no-op unless configured)."""
    folder = _dir
    if folder is not None:
        _write(folder, pid, kind, os.getpid())


def forget(pid: int) -> None:
    """The child has exited (and been reaped): drop its record."""
    folder = _dir
    if folder is None:
        return
    for path in folder.glob(f"{pid}-*.json"):
        path.unlink(missing_ok=True)


def sweep(folder: Path) -> list[int]:
    """Kill children that a previous server on this data dir left running; returns their pids.

    Entries of a server that is still alive (another process on the same data dir) are left alone, and a
    pid whose start time no longer matches belongs to someone else now and is not touched.
    """
    killed: list[int] = []
    me = os.getpid()
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            pid, started = int(entry["pid"]), int(entry["start"])
            server_pid = int(entry.get("server_pid", 0))
            server_start = entry.get("server_start")
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)
            continue
        if server_pid != me and server_pid and _alive(server_pid, server_start):
            continue  # its server is still running
        if pid != me and _alive(pid, started):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                log.warning("killed pid %d (%s) left running by a previous server", pid, entry.get("kind"))
        path.unlink(missing_ok=True)
    for stale in folder.glob(".*.tmp") if folder.is_dir() else []:
        stale.unlink(missing_ok=True)
    return killed
