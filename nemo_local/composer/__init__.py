"""Prompt -> plan -> notes -> mastered audio. A library: no HTTP here (the server calls it).

Usage::

    plan = parse_prompt("calm lo-fi for a 2-minute product video")
    track = compose(plan)            # or compose("prompt", duration_s=..., seed=..., loop=...)
    track.write("track.wav"); track.write_cover("cover.png"); track.metadata

The names below are loaded on first use (PEP 562): the synthesis stack (scipy.signal, ~1.5 s to
import) is only needed to compose, while the server process and ``--plan-only`` only parse prompts.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nemo_local.composer.engine import compose
    from nemo_local.composer.plan import MusicPlan
    from nemo_local.composer.prompt import parse_prompt
    from nemo_local.composer.track import ComposedTrack

__all__ = ["ComposedTrack", "MusicPlan", "compose", "parse_prompt"]

_HOME = {
    "compose": "nemo_local.composer.engine",
    "MusicPlan": "nemo_local.composer.plan",
    "parse_prompt": "nemo_local.composer.prompt",
    "ComposedTrack": "nemo_local.composer.track",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOME])
