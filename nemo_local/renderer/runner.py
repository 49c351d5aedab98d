"""Run ffmpeg processes with progress and cancellation.

Progress comes from ``-progress pipe:1`` (``out_time_us=`` lines); cancellation kills the process and
raises :class:`RenderCancelled`. Several processes may run at once (video segments and audio encode in
parallel on two cores); :class:`Jobs` waits for all of them while watching the cancel event.
"""

from __future__ import annotations

import contextlib
import queue
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from nemo_local.media import children, ffmpeg_exe
from nemo_local.renderer.errors import RenderCancelled, RenderError

_POLL_S = 0.05


def base_cmd() -> list[str]:
    return [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]


def concat_input(listing: Path) -> list[str]:
    """ffmpeg input options reading a concat-demuxer listing of files in the work folder."""
    return ["-f", "concat", "-safe", "0", "-i", str(listing)]


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    stderr: list[bytes] = field(default_factory=list)
    out_time_s: float = 0.0
    threads: list[threading.Thread] = field(default_factory=list)


class Jobs:
    """A set of running ffmpeg processes that finish together, fail together and cancel together."""

    def __init__(self, cancel: threading.Event | None) -> None:
        self.cancel = cancel
        self.procs: list[Proc] = []

    def start(self, name: str, args: Sequence[str], *, progress: bool = False, stdin: bool = False) -> Proc:
        self.check_cancel()
        progress_args = ["-progress", "pipe:1", "-stats_period", "0.1", "-nostats"] if progress else []
        cmd = [*base_cmd(), *progress_args, *args]
        # ffmpeg dies with the server (death signal) and is recorded for the next server's sweep
        cmd, preexec = children.dying_with_parent(cmd)
        popen = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE if progress else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            preexec_fn=preexec,  # None with setpriv; else only prctl runs between fork and exec
        )
        children.record(popen.pid, "ffmpeg")
        proc = Proc(name, popen)
        err_thread = threading.Thread(target=self._drain, args=(popen.stderr, proc.stderr), daemon=True)
        err_thread.start()
        proc.threads.append(err_thread)
        if progress:
            out_thread = threading.Thread(target=self._progress, args=(proc,), daemon=True)
            out_thread.start()
            proc.threads.append(out_thread)
        self.procs.append(proc)
        return proc

    @staticmethod
    def _drain(stream: object, sink: list[bytes]) -> None:
        assert stream is not None
        for line in stream:  # type: ignore[attr-defined]
            sink.append(line)
            del sink[:-40]

    @staticmethod
    def _progress(proc: Proc) -> None:
        assert proc.popen.stdout is not None
        for raw in proc.popen.stdout:
            line = raw.decode(errors="replace").strip()
            if line.startswith("out_time_us=") or line.startswith("out_time_ms="):
                value = line.split("=", 1)[1]
                if value.lstrip("-").isdigit():
                    proc.out_time_s = max(proc.out_time_s, int(value) / 1_000_000)

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            self.kill_all()
            raise RenderCancelled("render cancelled")

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.popen.poll() is None:
                proc.popen.kill()
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=5)
            self._reaped(proc)

    @staticmethod
    def _reaped(proc: Proc) -> None:
        if proc.popen.returncode is not None:
            children.forget(proc.popen.pid)

    def wait(self, on_tick: Callable[[], None] | None = None, only: Sequence[Proc] | None = None) -> None:
        """Wait for every process (or just ``only``, leaving the others running); raise RenderError naming
        the first that failed, RenderCancelled on cancel."""
        try:
            while True:
                self.check_cancel()
                if on_tick is not None:
                    on_tick()
                running = [p for p in (only if only is not None else self.procs) if p.popen.poll() is None]
                failed = [p for p in self.procs if p.popen.returncode not in (None, 0)]
                if failed:
                    self.kill_all()
                    proc = failed[0]
                    for t in proc.threads:
                        t.join(timeout=2)
                    tail = b"".join(proc.stderr).decode(errors="replace").strip()[-600:]
                    raise RenderError(f"ffmpeg failed while {proc.name}: {tail or 'no message'}")
                if not running:
                    break
                # wake as soon as a process ends, or after one poll interval to look at cancel/progress
                with contextlib.suppress(subprocess.TimeoutExpired):
                    running[0].popen.wait(timeout=_POLL_S)
            for proc in self.procs:
                if proc.popen.poll() is not None:
                    for t in proc.threads:
                        t.join(timeout=2)
        finally:
            for proc in self.procs:
                if proc.popen.poll() is not None:
                    self._reaped(proc)
            self.procs = [p for p in self.procs if p.popen.poll() is None]


class StdinFeed:
    """Writes chunks to a running process's stdin from a thread, holding up to ``ahead`` chunks.

    Why: the still-picture export pipes the mix into the audio encoder while the mix is made, but the
    pictures can only be drawn once the whole mix is known (the cover shows its waveform). Writing from
    the mixing thread would make the mix wait on the encoder; a bounded queue lets the mix run ahead
    (a minute of PCM is 10 MB) and keeps memory flat for long exports. Leaving the ``with`` block closes
    stdin; leaving it by an exception drops what is still queued. A process that stopped reading (it
    failed) only makes the writes stop: :meth:`Jobs.wait` says why it failed."""

    def __init__(self, proc: Proc, ahead: int = 12) -> None:
        assert proc.popen.stdin is not None
        self._stdin = proc.popen.stdin
        self._chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=ahead)
        self._abandon = threading.Event()
        self._thread = threading.Thread(target=self._write, name="stdin-feed", daemon=True)

    def __enter__(self) -> StdinFeed:
        self._thread.start()
        return self

    def put(self, chunk: bytes) -> None:
        self._chunks.put(chunk)

    def _write(self) -> None:
        broken = False
        while (chunk := self._chunks.get()) is not None:
            if broken or self._abandon.is_set():
                continue  # keep draining so that put() never blocks on a dead reader
            try:
                self._stdin.write(chunk)
            except (OSError, ValueError):  # a broken pipe, or stdin closed under us
                broken = True
        with contextlib.suppress(OSError, ValueError):
            self._stdin.close()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is not None:
            self._abandon.set()
            with contextlib.suppress(queue.Empty):
                while True:
                    self._chunks.get_nowait()
        self._chunks.put(None)
        # the writer finishes in its own time: Jobs.wait() waits for the process, which ends only after
        # stdin is closed; a killed process breaks the pipe and the writer drains and stops


def run(name: str, args: Sequence[str], cancel: threading.Event | None) -> None:
    """Run one ffmpeg command to completion."""
    jobs = Jobs(cancel)
    jobs.start(name, args)
    jobs.wait()
