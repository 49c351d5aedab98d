"""Form and tempo: how many bars, at what exact tempo, in which sections.

The tempo is nudged (within ±15 %, or ±1.5 % when the prompt named it) so a whole number of bars fills
the requested duration: the final chord then lands on the last bar, and a loop's end meets its start on
a downbeat. A named tempo that no whole number of bars fits is kept, and the last bar is cut by the fade.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nemo_local.composer.plan import MAX_BPM, MIN_BPM


@dataclass(frozen=True)
class Section:
    """A run of bars with one role; ``intensity`` (0-1) decides which layers play."""

    name: str  # intro | A | B | bridge | outro
    start_bar: int
    bars: int
    intensity: float

    @property
    def end_bar(self) -> int:
        return self.start_bar + self.bars


#: How far a tempo the prompt named may be nudged: inside the quality gate's ±2 % with room to spare.
NAMED_TEMPO_NUDGE = 1.015


def fit_tempo(bpm: float, duration_s: float, *, loop: bool, named: bool = False) -> tuple[float, int]:
    """(effective BPM, bar count) so that whole 4/4 bars fill ``duration_s`` where the tempo allows it."""
    bar_s = 240.0 / bpm
    bars = max(1, round(duration_s / bar_s))
    fitted = 240.0 * bars / duration_s
    max_ratio = NAMED_TEMPO_NUDGE if named else 10.0 if loop else 1.15
    while fitted > MAX_BPM and bars > 1:
        bars -= 1
        fitted = 240.0 * bars / duration_s
    while fitted < MIN_BPM:
        bars += 1
        fitted = 240.0 * bars / duration_s
    if (MIN_BPM <= fitted <= MAX_BPM) and (1 / max_ratio <= fitted / bpm <= max_ratio):
        return fitted, bars
    return float(bpm), max(1, math.ceil(duration_s / bar_s))


def plan_sections(bars: int, *, loop: bool, shape: str = "song") -> list[Section]:
    """Intro / A / B / (bridge) / outro sized to ``bars``; loops have no intro or outro so they can repeat.

    ``shape="build"``: sections whose intensity rises steadily from sparse to full (layers enter as it
    passes their thresholds, velocities grow), so loudness and density measurably rise to the end.
    """
    if shape == "build" and not loop and bars >= 3:
        return _build(bars)
    if loop:
        return _body(0, bars, first_intensity=0.8)
    if bars <= 2:
        short = (
            [Section("A", 0, bars, 0.85)]
            if bars == 1
            else [Section("A", 0, 1, 0.85), Section("outro", 1, 1, 0.6)]
        )
        return short
    intro = 0 if bars < 5 else 1 if bars < 9 else 2 if bars < 24 else 4
    outro = 1 if bars < 8 else 2 if bars < 24 else 4
    sections: list[Section] = []
    if intro:
        sections.append(Section("intro", 0, intro, 0.3))
    body_bars = bars - intro - outro
    # a short track is one section: it should sound like the song, not like its quiet opening
    sections.extend(_body(intro, body_bars, first_intensity=0.65 if body_bars >= 8 else 0.9))
    sections.append(Section("outro", bars - outro, outro, 0.5))
    return sections


def _body(start: int, count: int, *, first_intensity: float) -> list[Section]:
    if count <= 0:
        return []
    length = 8 if count >= 16 else 4 if count >= 6 else count
    chunks: list[int] = []
    remaining = count
    while remaining > 0:
        take = min(length, remaining)
        if 0 < remaining - take < length // 2:
            take = remaining  # fold a short remainder into the last section
        chunks.append(take)
        remaining -= take
    bridge_at = len(chunks) // 2 if len(chunks) >= 5 else -1
    sections: list[Section] = []
    bar = start
    letter_index = 0
    for i, size in enumerate(chunks):
        if i == bridge_at:
            sections.append(Section("bridge", bar, size, 0.45))
        else:
            name = "A" if letter_index % 2 == 0 else "B"
            intensity = first_intensity if i == 0 else (1.0 if name == "B" else 0.8)
            sections.append(Section(name, bar, size, intensity))
            letter_index += 1
        bar += size
    return sections


def _build(bars: int) -> list[Section]:
    size = 1 if bars < 8 else 2 if bars < 24 else 4
    starts = list(range(0, bars, size))
    if len(starts) > 1 and bars - starts[-1] < size:
        starts.pop()  # fold a short remainder into the last section
    out: list[Section] = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else bars
        intensity = 0.2 + 0.8 * i / max(1, len(starts) - 1)
        out.append(Section("A", start, end - start, round(intensity, 3)))
    return out
