"""Placing notes in time: bar/step -> seconds with swing and seeded humanisation, and the small helpers
every part generator shares."""

from __future__ import annotations

import numpy as np
import pretty_midi

from nemo_local.composer.form import Section
from nemo_local.composer.theory import swing_position


class Clock:
    """Bar/step -> seconds, with swing and deterministic humanisation."""

    def __init__(self, bpm: float, swing: float, rng: np.random.Generator, jitter_s: float) -> None:
        self.beat_s = 60.0 / bpm
        self.swing = swing
        self.rng = rng
        self.jitter_s = jitter_s

    def at(self, bar: int, step: float, *, human: bool = True) -> float:
        beat = bar * 4 + step / 4.0
        t = swing_position(beat, self.swing) * self.beat_s
        if human and self.jitter_s > 0 and (bar > 0 or step > 0):
            t += float(
                np.clip(self.rng.normal(0.0, self.jitter_s), -2.5 * self.jitter_s, 2.5 * self.jitter_s)
            )
        return max(0.0, t)


def seeded_rng(seed: int, label: str) -> np.random.Generator:
    """One generator per (seed, part label): a part's notes stay the same when another part changes."""
    return np.random.default_rng([seed, sum(ord(c) * (i + 1) for i, c in enumerate(label))])


def add_note(inst: pretty_midi.Instrument, pitch: int, start: float, end: float, velocity: float) -> None:
    """Append a note, clamping velocity to MIDI's range and dropping impossible pitches or empty notes."""
    vel = int(np.clip(round(velocity), 1, 127))
    if 0 <= pitch <= 127 and end > start:
        inst.notes.append(
            pretty_midi.Note(velocity=vel, pitch=int(pitch), start=float(start), end=float(end))
        )


def section_at(sections: list[Section], bar: int) -> Section:
    for sec in sections:
        if sec.start_bar <= bar < sec.end_bar:
            return sec
    return sections[-1]
