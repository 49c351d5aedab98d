"""Composing off the event loop: the engine is CPU-bound Python/numpy, so it runs in worker processes,
which keeps keep-alives and every other request flowing while a track is being made."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any


def compose_to_files(plan: dict[str, Any], out_dir: str, stem: str) -> dict[str, Any]:
    """Runs in a worker process: compose the plan and write the audio and its cover image."""
    from nemo_local.composer import MusicPlan, compose

    track = compose(MusicPlan.model_validate(plan))
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    audio = Path(out_dir) / f"{stem}.wav"
    cover = Path(out_dir) / f"{stem}.png"
    track.write(audio)
    try:
        track.write_cover(cover)
    except Exception:  # a missing cover never costs the user their track
        cover = Path()
    return {
        "audio": str(audio),
        "cover": str(cover) if cover.name else None,
        "metadata": dict(track.metadata),
        "duration_s": float(track.duration_s),
    }


def _watch_parent(parent_pid: int) -> None:
    """Worker initializer: exit when the server process is gone (even killed with SIGKILL), so no
    composer process outlives its server. The kernel's death signal covers the instant case, and the
    record lets the next server sweep a worker that slipped through."""
    from nemo_local.media.children import die_with_parent

    die_with_parent()

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()
    with contextlib.suppress(OSError):
        os.nice(10)  # composing yields the CPU to the server's event loop (keep-alives, first events)


def _warm_up() -> bool:
    import nemo_local.composer.engine  # noqa: F401  (import cost paid once per worker, not on the first request)

    return True


class ComposeRunner:
    """A small process pool; rebuilt if a worker dies."""

    def __init__(self, workers: int) -> None:
        self._workers = max(1, workers)
        self._pool: Executor = self._new_pool()

    def _new_pool(self) -> Executor:
        return ProcessPoolExecutor(
            self._workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_watch_parent,
            initargs=(os.getpid(),),
        )

    def warm_up(self) -> None:
        for _ in range(self._workers):
            self._pool.submit(_warm_up)

    async def compose(self, plan: dict[str, Any], out_dir: Path, stem: str) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, compose_to_files, plan, str(out_dir), stem)
        except BrokenProcessPool:
            self._pool = self._new_pool()
            return await loop.run_in_executor(self._pool, compose_to_files, plan, str(out_dir), stem)

    def shutdown(self) -> None:
        """Stop at once: a track still being composed for a stopping server is lost either way, and
        waiting for workers (or their warm-up imports) would make every stop take seconds."""
        processes = list(getattr(self._pool, "_processes", {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            proc.terminate()
        for proc in processes:
            proc.join(timeout=2)
