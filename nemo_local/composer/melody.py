"""Melody: four-bar phrases from a rhythm motif, an answer, a sequence and a cadence; chord tones on strong
beats, stepwise motion between, and no clash with a raised dominant's third."""

from __future__ import annotations

import numpy as np
import pretty_midi

from nemo_local.composer.form import Section
from nemo_local.composer.notes import Clock, add_note, seeded_rng
from nemo_local.composer.plan import MusicPlan
from nemo_local.composer.styles import Style
from nemo_local.composer.theory import SCALES, Chord, scale_pitch

RHYTHMS: dict[int, list[list[tuple[int, int]]]] = {
    1: [[(0, 8), (8, 8)], [(0, 12), (12, 4)], [(0, 16)], [(0, 6), (6, 10)], [(4, 4), (8, 8)]],
    2: [
        [(0, 6), (6, 2), (8, 8)],
        [(0, 4), (4, 4), (8, 8)],
        [(0, 8), (8, 4), (12, 4)],
        [(2, 2), (4, 4), (8, 8)],
    ],
    3: [
        [(0, 3), (3, 3), (6, 2), (8, 4), (12, 4)],
        [(0, 2), (2, 2), (4, 4), (8, 4), (12, 4)],
        [(0, 4), (6, 2), (8, 4), (12, 4)],
        [(0, 6), (6, 2), (8, 2), (10, 6)],
    ],
    4: [
        [(0, 2), (2, 2), (4, 2), (6, 2), (8, 4), (12, 4)],
        [(0, 3), (3, 3), (6, 4), (10, 2), (12, 4)],
        [(0, 2), (2, 4), (6, 2), (8, 2), (10, 2), (12, 4)],
        [(0, 4), (4, 2), (6, 2), (8, 2), (10, 6)],
    ],
    5: [
        [(0, 2), (2, 2), (4, 2), (6, 2), (8, 2), (10, 2), (12, 2), (14, 2)],
        [(0, 3), (3, 3), (6, 2), (8, 3), (11, 3), (14, 2)],
        [(0, 2), (2, 2), (4, 4), (8, 2), (10, 2), (12, 4)],
    ],
}
CADENCES: list[list[tuple[int, int]]] = [[(0, 12)], [(0, 4), (4, 12)], [(0, 8), (8, 8)]]

# Drum grooves: instrument -> 16-step pattern ("x" accent, "o" soft, "." rest).


def _avoid_index(chord: Chord, tonic_pc: int, mode: str) -> int | None:
    """The diatonic step (mod 7) that clashes with ``chord``: the scale's third of a dominant whose third
    was raised (V in harmonic minor), else None."""
    natural_third = (tonic_pc + SCALES[mode][(chord.degree + 2) % 7]) % 12
    return (chord.degree + 2) % 7 if natural_third != chord.third_pc else None


def _chord_tone_indices(chord: Chord, seventh: bool, avoid: int | None = None) -> list[int]:
    """Diatonic indices (mod 7) of the chord's tones, without the clashing step."""
    tones = [chord.degree, chord.degree + 2, chord.degree + 4]
    if seventh:
        tones.append(chord.degree + 6)
    return [t % 7 for t in tones if t % 7 != avoid]


def _nearest_index(current: int, allowed_mod7: list[int], low: int, high: int, bias: int) -> int:
    candidates = [i for i in range(low, high + 1) if i % 7 in allowed_mod7]
    if not candidates:
        return max(low, min(high, current))
    return min(candidates, key=lambda i: (abs(i - current) - (0.4 if (i - current) * bias > 0 else 0.0), i))


def _melody_bar(
    rhythm: list[tuple[int, int]],
    chord: Chord,
    current: int,
    bounds: tuple[int, int],
    rng: np.random.Generator,
    seventh: bool,
    cadence_to: list[int] | None = None,
    avoid: int | None = None,
) -> tuple[list[tuple[int, int, int]], int]:
    low, high = bounds
    tones = _chord_tone_indices(chord, seventh, avoid)
    direction = 1 if rng.random() < 0.5 else -1
    out: list[tuple[int, int, int]] = []
    for n, (step, length) in enumerate(rhythm):
        last = n == len(rhythm) - 1
        if cadence_to is not None and last:
            current = _nearest_index(current, cadence_to, low, high, direction)
        elif step in (0, 8) or length >= 8:
            current = _nearest_index(current + direction, tones, low, high, direction)
        else:
            move = int(rng.choice([1, 1, 1, 2, 2, 3])) * direction
            nxt = current + move
            if nxt < low or nxt > high:
                direction = -direction
                nxt = current - move
            current = max(low, min(high, nxt))
            if avoid is not None and current % 7 == avoid:
                current = current - 1 if current - 1 >= low else current + 1
        if rng.random() < 0.22:
            direction = -direction
        out.append((step, length, current))
    return out, current


def melody(
    inst: pretty_midi.Instrument,
    style: Style,
    plan: MusicPlan,
    chords: list[Chord],
    sections: list[Section],
    clock: Clock,
) -> None:
    low_pitch, high_pitch = style.melody_range
    tonic = plan.tonic_pitch_class
    mode = plan.mode
    idx_low = next(i for i in range(-7, 100) if scale_pitch(tonic, mode, i, 0) >= low_pitch)
    idx_high = max(i for i in range(-7, 100) if scale_pitch(tonic, mode, i, 0) <= high_pitch)
    mid = (idx_low + idx_high) // 2
    phrase_cache: dict[tuple[str, int], list[list[tuple[int, int, int]]]] = {}

    def avoid_of(bar: int) -> int | None:
        return _avoid_index(chords[min(bar, len(chords) - 1)], tonic, mode)

    seventh = style.sevenths
    last_bar = len(chords) - 1

    def phrase(name: str, start_bar: int, variant: int) -> list[list[tuple[int, int, int]]]:
        key = (name, variant)
        if key in phrase_cache:
            return phrase_cache[key]
        prng = seeded_rng(plan.seed, f"melody-{name}-{variant if variant < 2 else 0}")
        energy = max(1, min(5, plan.energy + (1 if name == "B" else 0)))
        pool = RHYTHMS[energy]
        r1 = pool[int(prng.integers(len(pool)))]
        r2 = pool[int(prng.integers(len(pool)))]
        cad = CADENCES[int(prng.integers(len(CADENCES)))]
        current = mid + (2 if name == "B" else 0)
        bars_out: list[list[tuple[int, int, int]]] = []
        first, current = _melody_bar(
            r1, chords[start_bar], current, (idx_low, idx_high), prng, seventh, avoid=avoid_of(start_bar)
        )
        bars_out.append(first)
        second, current = _melody_bar(
            r2,
            chords[min(start_bar + 1, last_bar)],
            current,
            (idx_low, idx_high),
            prng,
            seventh,
            avoid=avoid_of(start_bar + 1),
        )
        bars_out.append(second)
        # bar 3 repeats bar 1's shape as a sequence over its own chord
        chord3 = chords[min(start_bar + 2, last_bar)]
        avoid3 = avoid_of(start_bar + 2)
        target = _nearest_index(
            first[0][2], _chord_tone_indices(chord3, seventh, avoid3), idx_low, idx_high, 0
        )
        shift = target - first[0][2]
        third = [(s, ln, max(idx_low, min(idx_high, i + shift))) for s, ln, i in first]
        if avoid3 is not None:
            third = [(s, ln, i - 1 if i % 7 == avoid3 else i) for s, ln, i in third]
        tones3 = _chord_tone_indices(chord3, seventh, avoid3)
        third = [
            (s, ln, _nearest_index(i, tones3, idx_low, idx_high, 0) if (s in (0, 8) or ln >= 8) else i)
            for s, ln, i in third
        ]
        bars_out.append(third)
        goal = [0] if variant % 2 == 1 else [2, 4]
        chord4 = chords[min(start_bar + 3, last_bar)]
        goal_abs = [(chord4.degree + g) % 7 for g in goal]
        fourth, _ = _melody_bar(
            cad,
            chord4,
            third[-1][2],
            (idx_low, idx_high),
            prng,
            seventh,
            cadence_to=goal_abs,
            avoid=avoid_of(start_bar + 3),
        )
        bars_out.append(fourth)
        phrase_cache[key] = bars_out
        return bars_out

    rng = clock.rng
    harmonise = plan.energy >= 3 and style.name in (
        "corporate",
        "acoustic",
        "cinematic",
        "electronic",
        "piano",
    )
    for sec in sections:
        if sec.name not in ("A", "B"):
            continue
        for offset in range(sec.bars):
            bar = sec.start_bar + offset
            if bar >= len(chords):
                break
            block = offset // 4
            notes = phrase(sec.name, sec.start_bar, block % 2)[offset % 4]
            avoid = avoid_of(bar)
            for step, length, idx in notes:
                pitch = scale_pitch(tonic, mode, idx, 0)
                t0 = clock.at(bar, step)
                end = clock.at(bar, step + length, human=False) - 0.02
                accent = 10 if step in (0, 8) else 0
                velocity = 72 + 14 * sec.intensity + accent + rng.normal(0, 4)
                add_note(inst, pitch, t0, end, velocity)
                # the chorus thickens: a diatonic third below on the longer notes
                lower = idx - 2
                if (
                    harmonise
                    and sec.name == "B"
                    and length >= 4
                    and lower % 7 != avoid
                    and lower >= idx_low - 2
                ):
                    add_note(inst, scale_pitch(tonic, mode, lower, 0), t0 + 0.004, end, velocity - 16)
    if not plan.loop and len(chords) > 1:
        t0 = clock.at(last_bar, 0)
        add_note(
            inst, scale_pitch(tonic, mode, mid - (mid % 7), 0), t0, clock.at(last_bar + 1, 0, human=False), 70
        )
