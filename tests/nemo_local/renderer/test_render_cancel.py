"""Cancel works at every stage of a render: while mixing, while drawing pictures, while ffmpeg encodes.
Each case sets the event from inside the stage and expects RenderCancelled within seconds, with no
ffmpeg left and the work folder gone."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from nemo_local.limits import Limits, replace
from nemo_local.renderer import RenderCancelled, render_draft

BOUND_S = 5.0


def _titles(n: int, each_ms: int) -> list[dict[str, Any]]:
    return [{"id": f"t{i}", "s": i * each_ms, "d": each_ms, "txt": f"line {i}"} for i in range(n)]


CASES: dict[str, tuple[dict[str, Any], float]] = {
    # (draft, progress at which to cancel): the mix reports 0-5, pictures 5-8, encoders 8-98
    "mixing": ({"t": [{"tt": 1, "sg": [{"s": 0, "d": 590_000, "src": "nemo://music"}]}], "d": 590_000}, 0.5),
    "drawing and encoding many pictures": (
        {"t": [{"tt": 7, "sg": _titles(900, 500)}], "d": 450_000, "m": {"title": "many"}},
        8.5,
    ),
    "encoding a clip": (
        {
            "t": [{"tt": 0, "sg": [{"s": 0, "d": 300_000, "src": "nemo://clip"}]}],
            "m": {"orientation": "portrait"},
        },
        5.5,
    ),
}


@pytest.mark.parametrize("stage", list(CASES))
def test_cancel_at_every_stage(tmp_path: Path, resolve: Callable[[str], Path], stage: str) -> None:
    draft, at = CASES[stage]
    cancel = threading.Event()
    set_at: list[float] = []

    def on_progress(value: float) -> None:
        if value >= at and not cancel.is_set():
            set_at.append(time.monotonic())
            cancel.set()

    work = tmp_path / "work"
    limits = replace(Limits(), draft_segments=1000)
    with pytest.raises(RenderCancelled):
        render_draft(
            draft, tmp_path / "o.mp4", resolve_media=resolve, progress=on_progress, cancel=cancel,
            work_dir=work, limits=limits,
        )  # fmt: skip
    assert set_at, "the stage never reported progress"
    assert time.monotonic() - set_at[0] < BOUND_S
    assert not [p for p in psutil.Process().children(recursive=True) if "ffmpeg" in p.name()]
    assert not any(work.iterdir())
    assert [p.name for p in tmp_path.iterdir()] == ["work"]
