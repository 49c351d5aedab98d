"""Prompt -> plan -> notes -> mastered audio. A library: no HTTP here (the server calls it).

Usage::

    plan = parse_prompt("calm lo-fi for a 2-minute product video")
    track = compose(plan)            # or compose("prompt", duration_s=..., seed=..., loop=...)
    track.write("track.wav"); track.write_cover("cover.png"); track.metadata
"""

from nemo_local.composer.engine import compose
from nemo_local.composer.plan import MusicPlan
from nemo_local.composer.prompt import parse_prompt
from nemo_local.composer.track import ComposedTrack

__all__ = ["ComposedTrack", "MusicPlan", "compose", "parse_prompt"]
