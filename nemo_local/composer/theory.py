"""Just enough music theory: scales, diatonic chords, voice leading and swing.

Pitches are MIDI numbers; chords are built by stacking diatonic thirds on a scale degree so every chord
belongs to the key, which is what keeps algorithmic harmony sounding intentional.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
}


@dataclass(frozen=True)
class Chord:
    """A diatonic chord: ``degree`` 0 is the tonic; ``pitch_classes`` root first."""

    degree: int
    root_pc: int
    pitch_classes: tuple[int, ...]

    @property
    def third_pc(self) -> int:
        return self.pitch_classes[1]

    @property
    def fifth_pc(self) -> int:
        return self.pitch_classes[2]


def scale_pitch(tonic_pc: int, mode: str, index: int, base_octave: int = 5) -> int:
    """MIDI pitch of diatonic step ``index`` (0 = tonic in ``base_octave``; negative goes down)."""
    steps = SCALES[mode]
    octave, pos = divmod(index, len(steps))
    return 12 * (base_octave + octave) + tonic_pc + steps[pos]


def build_chord(
    tonic_pc: int, mode: str, degree: int, *, seventh: bool, ninth: bool = False, dominant: bool = False
) -> Chord:
    """Stack thirds on ``degree``; ``dominant`` raises the third of V in minor (harmonic minor cadence)."""
    steps = SCALES[mode]
    count = 3 + int(seventh) + int(ninth)
    pcs = []
    for k in range(count):
        idx = degree + 2 * k
        octave, pos = divmod(idx, len(steps))
        pcs.append((tonic_pc + steps[pos] + 12 * octave) % 12)
    if dominant and mode == "minor" and degree % 7 == 4:
        pcs[1] = (pcs[0] + 4) % 12
        if seventh:
            pcs[3] = (pcs[0] + 10) % 12
    return Chord(degree=degree % 7, root_pc=pcs[0], pitch_classes=tuple(pcs))


def pitch_in_range(pc: int, low: int, high: int) -> int:
    """The lowest MIDI pitch with pitch class ``pc`` at or above ``low`` (wrapped below ``high``)."""
    pitch = low + ((pc - low) % 12)
    while pitch >= high:
        pitch -= 12
    return pitch


def voice_chord(chord: Chord, previous: list[int] | None, low: int = 55, high: int = 74) -> list[int]:
    """Close voicing within [low, high) that moves least from ``previous`` (smooth pads and comping)."""
    pcs = list(chord.pitch_classes)
    candidates: list[list[int]] = []
    for rotation in range(len(pcs)):
        order = pcs[rotation:] + pcs[:rotation]
        for start in range(low, low + 12):
            if start % 12 != order[0]:
                continue
            voicing = [start]
            for pc in order[1:]:
                nxt = voicing[-1] + 1 + ((pc - voicing[-1] - 1) % 12)
                voicing.append(nxt)
            if voicing[-1] < high:
                candidates.append(voicing)
    if not candidates:
        base = pitch_in_range(pcs[0], low, high)
        return sorted(base + ((pc - pcs[0]) % 12) for pc in pcs)
    if not previous:
        centre = (low + high) / 2
        return min(candidates, key=lambda v: abs(sum(v) / len(v) - centre))
    prev = sorted(previous)

    def movement(v: list[int]) -> float:
        a = sorted(v)
        n = min(len(a), len(prev))
        return (
            float(sum(abs(x - y) for x, y in zip(a[:n], prev[:n], strict=False)))
            + abs(len(a) - len(prev)) * 2
        )

    return min(candidates, key=movement)


def swing_position(beat: float, swing: float) -> float:
    """Map a straight beat position to a swung one: the off-beat eighth moves from 0.5 to ``swing``."""
    if swing == 0.5:
        return beat
    whole = math.floor(beat)
    frac = beat - whole
    if frac < 0.5:
        return whole + frac * (swing / 0.5)
    return whole + swing + (frac - 0.5) * ((1.0 - swing) / 0.5)
