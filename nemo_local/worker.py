"""Render jobs run in background threads (ffmpeg does the heavy lifting in subprocesses), report
progress to the store, honour cancel, and are recovered after a restart (resumed once, else failed)."""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from nemo_local.config import ServerConfig
from nemo_local.limits import LimitExceeded
from nemo_local.media import children
from nemo_local.media.content_types import content_type
from nemo_local.quota import check_free_disk
from nemo_local.store import RenderRow, Store, paths

log = logging.getLogger("nemo_local.worker")
STUCK_PROGRESS = 5.0


class RenderWorker:
    """N threads running pending renders; the store holds the truth about every job.

    The queue only carries wake-ups (one per submitted render): which render runs next is chosen by the
    store, fairly across users (`RenderStore.claim_next`), so one user's ten queued renders do not make
    everyone else wait for all ten. Each render runs under the render_seconds wall-clock limit."""

    def __init__(self, store: Store, config: ServerConfig) -> None:
        self.store = store
        self.config = config
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._cancels: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._record = store.data_dir / "run" / "children"  # child processes, for the next start's sweep

    def start(self) -> tuple[list[str], list[str]]:
        """Sweep what a previous server left (child processes, work folders, partial files), recover its
        interrupted renders, then start the threads."""
        record = self._record
        killed = children.sweep(record)
        if killed:
            log.warning("killed %d process(es) a previous server left running: %s", len(killed), killed)
        children.configure(record)
        resumed, failed = self.store.renders.recover_after_restart()
        self._clean_job_folders()
        for render_id in self.store.renders.pending_ids():
            self._queue.put(render_id)
        for i in range(max(1, self.config.render_workers)):
            thread = threading.Thread(target=self._loop, name=f"render-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return resumed, failed

    def _job_dir(self, render_id: str) -> Path:
        """``renders/<key>``, refused unless strictly inside ``renders`` (defence in depth: keys are made by
        the server, and a path that escaped would let the cleanup below remove foreign files)."""
        return self.store.path("renders", paths.render_key(render_id))

    def _clean_job_folders(self) -> None:
        """At start-up nothing is running yet: remove every work folder and partial file, and the whole
        folder of a render that is not waiting to run and has no finished output to serve."""
        root = self.store.dir("renders")
        for entry in root.iterdir():
            job = self.store.renders.get(entry.name)
            keep = job is not None and job.status in ("completed", "pending", "processing")
            if not keep or not entry.is_dir() or entry.is_symlink():
                log.info("removing %s left by an earlier run", entry.name)
                self._remove(entry)
                continue
            self._remove(entry / "work")
            for partial in entry.glob(".*.partial"):
                partial.unlink(missing_ok=True)

    def _free_unless_completed(self, render_id: str) -> None:
        """Remove the job folder unless the render completed (a cancel or a timeout may land in the last
        instant of a render that finished, and its file must stay servable)."""
        final = self.store.renders.get(render_id)
        if final is None or final.status != "completed":
            shutil.rmtree(self._job_dir(render_id), ignore_errors=True)

    @staticmethod
    def _remove(path: Path) -> None:
        if path.is_symlink() or path.is_file():
            path.unlink(missing_ok=True)
        elif path.is_dir():
            shutil.rmtree(path, ignore_errors=True)

    def submit(self, render_id: str) -> None:
        self._queue.put(render_id)

    def cancel(self, render_id: str) -> bool:
        cancelled = self.store.renders.cancel(render_id)
        with self._lock:
            event = self._cancels.get(render_id)
        if event is not None:
            event.set()
        return cancelled

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking work; running renders are interrupted and stay 'processing' for restart recovery."""
        self._stopping.set()
        with self._lock:
            for event in self._cancels.values():
                event.set()
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        children.unconfigure(self._record)

    def _loop(self) -> None:
        # Linux niceness is per thread and inherited by the ffmpeg processes this thread starts: renders
        # yield the CPU to the event loop, so polls and SSE events stay prompt while a render runs.
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        while not self._stopping.is_set():
            if self._queue.get() is None:
                return
            render_id = self.store.renders.claim_next()
            if render_id is None:  # its render was cancelled, or another thread took it
                continue
            try:
                self._run(render_id)
            except Exception:  # a bug in one job must not kill the worker
                log.exception("render %s crashed", render_id)
                self.store.renders.fail(render_id, "internal render error")

    def _progress(self, render_id: str) -> Callable[[float], None]:
        """The renderer reports 0-100; the store gets a monotonic value, at most every half second or 1 %."""
        last = [0.0, 0.0]

        def report(value: float) -> None:
            pct = max(last[1], min(99.0, float(value)))
            now = time.monotonic()
            if pct - last[1] >= 1.0 or (pct > last[1] and now - last[0] > 0.5):
                last[0], last[1] = now, pct
                self.store.renders.set_progress(render_id, pct)

        return report

    def _wait_stuck(self, render_id: str, cancel: threading.Event) -> None:
        """Fault: stay 'processing' until cancelled, stopped, or the switch is turned off."""
        self.store.renders.set_progress(render_id, STUCK_PROGRESS)
        while self.config.faults.render_stuck and not cancel.wait(0.1):
            pass

    def _over_time(self, render_id: str) -> None:
        """The render ran past render_seconds: it fails with the limit named (its folder is freed by the
        cancel path, which the set event sends it down)."""
        limits = self.config.limits
        over = LimitExceeded(
            "render_seconds",
            "render time",
            None,
            limits,
            f"render failed: it ran longer than the limit of {limits.shown('render_seconds')} "
            "(render_seconds) and was stopped; export a shorter or lighter draft",
        )
        self.store.renders.fail(render_id, str(over))

    def _run(self, render_id: str) -> None:
        """Run a render this thread has claimed (it is 'processing')."""
        job = self.store.renders.get(render_id)
        assert job is not None
        cancel = threading.Event()
        timed_out = threading.Event()

        def expire() -> None:
            timed_out.set()
            cancel.set()

        timer = threading.Timer(self.config.limits.render_seconds, expire)
        timer.daemon = True
        with self._lock:
            self._cancels[render_id] = cancel
        timer.start()
        try:
            try:
                check_free_disk(self.store.data_dir, self.config.limits, "this render")
            except LimitExceeded as exc:
                self.store.renders.fail(render_id, f"render failed: {exc}")
                return
            if self.config.faults.render_stuck:
                self._wait_stuck(render_id, cancel)
            if not cancel.is_set():
                if self.config.faults.render_fail:
                    self.store.renders.fail(
                        render_id, "render failed: injected failure (fault switch render_fail)"
                    )
                    return
                self._render(job, cancel, timed_out)
        finally:
            timer.cancel()
            with self._lock:
                self._cancels.pop(render_id, None)
            if timed_out.is_set() and not self._stopping.is_set():
                self._over_time(render_id)
                self._free_unless_completed(render_id)

    def _render(
        self, job: RenderRow, cancel: threading.Event, timed_out: threading.Event | None = None
    ) -> None:
        from nemo_local.renderer import RenderCancelled, RenderError, render_draft

        render_id, fmt = job.id, job.format
        job_dir = self._job_dir(render_id)
        shutil.rmtree(job_dir, ignore_errors=True)
        job_dir.mkdir(parents=True)
        out_path = paths.under(job_dir, f"{render_id}.{fmt}")  # fmt is one of the API's formats
        done = False
        try:
            result = render_draft(
                job.draft,
                out_path,
                fmt=fmt,
                quality=job.quality,
                resolve_media=self.store.media.resolve_url,
                progress=self._progress(render_id),
                cancel=cancel,
                work_dir=job_dir / "work",
                limits=self.config.limits,
            )
        except RenderCancelled:
            if not self._stopping.is_set() and not (timed_out and timed_out.is_set()):  # _run fails a timeout
                self.store.renders.cancel(render_id)
            return
        except RenderError as exc:  # its message is written for the user
            if not self._stopping.is_set():
                # ffmpeg's messages name files by path: a stranger learns nothing about where we keep them
                shown = str(exc).replace(str(self.store.data_dir), "<data dir>")
                self.store.renders.fail(render_id, f"render failed: {shown}")
            return
        except Exception as exc:
            if self._stopping.is_set():
                return
            # a bug, not a bad draft: the user can only report it, so the details go to the log
            log.exception("render %s crashed", render_id)
            self.store.renders.fail(
                render_id, f"render failed: internal error ({type(exc).__name__}); see the nemo-local log"
            )
            return
        else:
            done = True
        finally:
            # a cancelled, failed or interrupted render frees its disk at once (a resumed one starts over)
            shutil.rmtree(job_dir if not done else job_dir / "work", ignore_errors=True)
        if cancel.is_set() and self._stopping.is_set():
            shutil.rmtree(job_dir, ignore_errors=True)
            return
        self._publish(job, Path(result.path), int(result.size), float(result.duration_s))
        self._free_unless_completed(render_id)

    def _publish(self, job: RenderRow, path: Path, size: int, duration: float) -> None:
        """The file's row and the render's completion in one transaction: a cancel that landed in the
        render's last instant (or a kill between the two writes) used to leave a published file row
        pointing at a folder about to be removed, and a resumed render published a second one."""
        fmt = job.format
        try:
            with self.store.db.tx():
                # published under the caller's id (paths.RENDER_NAME: a safe file name), not the server's key
                public = self.store.media.publish(path, f"{job.name}.{fmt}", content_type(fmt), "render")
                if not self.store.renders.complete(job.id, public.public_id, size, duration):
                    raise _NotProcessing
        except _NotProcessing:
            log.info("render %s was cancelled as it finished; its file is not published", job.id)


class _NotProcessing(Exception):
    """The render is no longer 'processing' (cancelled as it finished): roll its publication back."""
