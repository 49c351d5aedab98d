"""What every pipeline of one export is handed: one parameter instead of the same seven.

``render_draft`` makes an :class:`Export` once (it owns the work folder, the partial file and the ffmpeg
jobs) and passes it to whichever pipeline the draft needs: audio only, still pictures, pass-through,
smart rendering or the full re-encode.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nemo_local.renderer.formats import Format, Quality
from nemo_local.renderer.runner import Jobs
from nemo_local.renderer.timeline import Timeline


@dataclass(frozen=True)
class Export:
    timeline: Timeline
    out: Path  # the file the pipeline writes (render_draft's partial file, published when it is done)
    fmt: Format
    quality: Quality
    work: Path  # a private folder for intermediate files, removed afterwards
    jobs: Jobs  # the export's ffmpeg processes: they fail and cancel together
    report: Callable[[float], None]  # progress 0-100, monotonic

    def seconds_done(self, seconds: float) -> float:
        """The share (0-1) of the export's duration that ``seconds`` of output make."""
        return min(1.0, seconds / max(self.timeline.duration, 1e-3))
