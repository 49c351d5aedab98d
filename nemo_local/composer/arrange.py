"""Plan -> symbolic arrangement (a ``pretty_midi.PrettyMIDI``): chords, melody, bass, comping, pads, drums.

Everything random comes from generators seeded by the plan's seed and a fixed label per part, so a part's
notes do not change when another part's logic changes, and the same plan always gives the same notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pretty_midi

from nemo_local.composer.form import Section, fit_tempo, plan_sections
from nemo_local.composer.plan import MusicPlan
from nemo_local.composer.styles import GM, PROGRESSIONS, Style, style_for
from nemo_local.composer.theory import (
    SCALES,
    Chord,
    build_chord,
    pitch_in_range,
    scale_pitch,
    swing_position,
    voice_chord,
)

DRUM = {
    "kick": 36,
    "rim": 37,
    "snare": 38,
    "clap": 39,
    "tom_low": 41,
    "hat": 42,
    "tom_mid": 45,
    "tom_high": 43,
    "open_hat": 46,
    "crash": 49,
    "ride": 51,
    "tambourine": 54,
    "shaker": 70,
}

# Melody rhythms per energy: (start step, length) in sixteenths within one bar.
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
GROOVES: dict[str, dict[str, str]] = {
    "boombap": {"kick": "x......x..x.....", "snare": "....x.......x...", "hat": "x.o.x.o.x.o.x.o."},
    "pop": {"kick": "x.......x.x.....", "snare": "....x.......x...", "hat": "x.o.x.o.x.o.x.o."},
    "four": {"kick": "x...x...x...x...", "clap": "....x.......x...", "open_hat": "..x...x...x...x."},
    "folk": {"kick": "x.......x.......", "rim": "....x.......x...", "shaker": "xoooxoooxoooxooo"},
    "epic": {
        "kick": "x.......x.....x.",
        "snare": "........x.......",
        "tom_low": "x..x..x.........",
        "tom_mid": "........x..x..x.",
    },
}


@dataclass
class Part:
    """One instrument of the arrangement and how loud / where it sits in the mix."""

    role: str
    instrument: pretty_midi.Instrument
    channel: int
    volume: int
    pan: int
    half_rate: bool = False  # sustained low/soft parts may be synthesized at half rate (see synth.py)


@dataclass
class Arrangement:
    """The notes plus the facts later stages need (tempo actually used, where the music ends)."""

    midi: pretty_midi.PrettyMIDI
    parts: list[Part]
    bpm: float
    bars: int
    sections: list[Section]
    style: Style
    chords: list[Chord]
    music_end_s: float
    notes_per_role: dict[str, int] = field(default_factory=dict)


class _Clock:
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


def _rng(seed: int, label: str) -> np.random.Generator:
    return np.random.default_rng([seed, sum(ord(c) * (i + 1) for i, c in enumerate(label))])


def _add(inst: pretty_midi.Instrument, pitch: int, start: float, end: float, velocity: float) -> None:
    vel = int(np.clip(round(velocity), 1, 127))
    if 0 <= pitch <= 127 and end > start:
        inst.notes.append(
            pretty_midi.Note(velocity=vel, pitch=int(pitch), start=float(start), end=float(end))
        )


def _chords_for(
    plan: MusicPlan, style: Style, sections: list[Section], bars: int, rng: np.random.Generator
) -> list[Chord]:
    options = PROGRESSIONS[style.harmony][plan.mode]
    first = int(rng.integers(len(options)))
    second = (first + 1 + int(rng.integers(len(options) - 1))) % len(options)
    prog_a, prog_b = options[first], options[second]
    degrees: list[int] = []
    for sec in sections:
        prog = prog_b if sec.name == "B" else prog_a
        degrees.extend(prog[i % len(prog)] for i in range(sec.bars))
    degrees = degrees[:bars]
    if not plan.loop and bars >= 2:
        degrees[-1] = 0
        if bars >= 4 and sections[-1].bars >= 2:
            degrees[-2] = 3 if style.harmony == "modal" else 4
    elif not plan.loop:
        degrees[-1] = 0
    cadence = style.harmony != "modal"
    return [
        build_chord(
            plan.tonic_pitch_class,
            plan.mode,
            d,
            seventh=style.sevenths,
            ninth=style.name == "ambient",
            dominant=cadence,
        )
        for d in degrees
    ]


def _section_of(sections: list[Section], bar: int) -> Section:
    for sec in sections:
        if sec.start_bar <= bar < sec.end_bar:
            return sec
    return sections[-1]


# ---------------------------------------------------------------------------------------------- parts


def _pads(
    inst: pretty_midi.Instrument, chords: list[Chord], sections: list[Section], clock: _Clock, final: bool
) -> None:
    previous: list[int] | None = None
    hold_until = len(chords)
    bar = 0
    while bar < hold_until:
        chord = chords[bar]
        span = 1
        while bar + span < hold_until and chords[bar + span] == chord and span < 2:
            span += 1
        if len(chord.pitch_classes) > 4:  # four voices are enough for a pad: drop the fifth of a ninth chord
            chord = Chord(
                chord.degree, chord.root_pc, tuple(pc for i, pc in enumerate(chord.pitch_classes) if i != 2)
            )
        voicing = voice_chord(chord, previous, 55, 74)
        previous = voicing
        sec = _section_of(sections, bar)
        vel = 48 + 28 * sec.intensity
        start = clock.at(bar, 0, human=False)
        end = clock.at(bar + span, 0, human=False) + (0.6 if final and bar + span >= hold_until else 0.02)
        for p in voicing:
            _add(inst, p, start, end, vel)
        bar += span


def _comp(
    inst: pretty_midi.Instrument,
    style: Style,
    plan: MusicPlan,
    chords: list[Chord],
    sections: list[Section],
    clock: _Clock,
) -> None:
    rng = clock.rng
    previous: list[int] | None = None
    kind = style.comp_kind
    last_bar = len(chords) - 1
    for bar, chord in enumerate(chords):
        sec = _section_of(sections, bar)
        if sec.intensity < 0.25:
            continue
        level = 50 + 35 * sec.intensity
        final_bar = not plan.loop and bar == last_bar and bar > 0
        if kind == "rhodes":
            voicing = voice_chord(chord, previous, 53, 72)
            previous = voicing
            patterns = [[(0, 6), (10, 6)], [(0, 14)], [(0, 4), (6, 4), (12, 4)], [(0, 7), (7, 3), (12, 4)]]
            pattern = [(0, 16)] if final_bar else patterns[(bar // 2 + int(rng.integers(2))) % len(patterns)]
            for step, length in pattern:
                t0 = clock.at(bar, step)
                for i, p in enumerate(voicing):
                    _add(
                        inst,
                        p,
                        t0 + 0.012 * i,
                        clock.at(bar, step + length, human=False),
                        level - 4 * i + rng.normal(0, 4),
                    )
        elif kind == "pulse":
            voicing = voice_chord(chord, previous, 57, 76)
            previous = voicing
            steps = range(0, 16, 2) if plan.energy >= 3 else range(0, 16, 4)
            for step in [0] if final_bar else steps:
                accent = 12 if step % 4 == 0 else 0
                t0 = clock.at(bar, step)
                dur = clock.beat_s * (2.0 if final_bar else 0.32)
                for p in voicing:
                    _add(inst, p, t0, t0 + dur, level - 8 + accent + rng.normal(0, 3))
        elif kind in ("arpeggio", "arp16", "ostinato"):
            _arpeggio(inst, kind, chord, bar, level, final_bar, plan, clock)
        elif kind == "strum":
            voicing = _guitar_voicing(chord)
            strokes = [(0, True), (4, True), (6, False), (10, False), (12, True), (14, False)]
            for step, down in [(0, True)] if final_bar else strokes:
                t0 = clock.at(bar, step)
                notes = voicing if down else list(reversed(voicing[-4:]))
                end = clock.at(bar, 16 if final_bar else step + 4, human=False)
                for i, p in enumerate(notes):
                    _add(inst, p, t0 + 0.009 * i, end, (level if down else level - 14) + rng.normal(0, 4))


def _guitar_voicing(chord: Chord) -> list[int]:
    root = pitch_in_range(chord.root_pc, 40, 52)
    tones = [root]
    pcs = [chord.fifth_pc, chord.root_pc, chord.third_pc, chord.fifth_pc]
    for pc in pcs:
        nxt = tones[-1] + 1 + ((pc - tones[-1] - 1) % 12)
        tones.append(nxt)
    return tones


def _arpeggio(
    inst: pretty_midi.Instrument,
    kind: str,
    chord: Chord,
    bar: int,
    level: float,
    final_bar: bool,
    plan: MusicPlan,
    clock: _Clock,
) -> None:
    rng = clock.rng
    if kind == "ostinato":
        root = pitch_in_range(chord.root_pc, 38, 50)
        figure = [root, root, root + 12, root, root, root + 7, root + 12, root]
        for i, p in enumerate(figure if not final_bar else figure[:1]):
            t0 = clock.at(bar, i * 2)
            dur = clock.beat_s * (2.0 if final_bar else 0.42)
            _add(inst, p, t0, t0 + dur, level + (10 if i % 4 == 0 else 0) + rng.normal(0, 3))
        return
    if kind == "arp16":
        base = voice_chord(chord, None, 60, 76)
        tones = [*base, base[0] + 12]
        step_len = 1 if plan.energy >= 4 else 2
        order = tones + tones[-2:0:-1]
        for i, step in enumerate(range(0, 16, step_len)):
            if final_bar and step > 0:
                break
            t0 = clock.at(bar, step)
            _add(
                inst,
                order[i % len(order)],
                t0,
                t0 + clock.beat_s * step_len * 0.2,
                level - 6 + (8 if step % 4 == 0 else 0),
            )
        return
    # broken chord with "pedal": notes ring until the bar ends
    root = pitch_in_range(chord.root_pc, 36, 48)
    third = pitch_in_range(chord.third_pc, root + 12, root + 24)
    fifth = (
        root + 7
        if (chord.fifth_pc - chord.root_pc) % 12 == 7
        else pitch_in_range(chord.fifth_pc, root + 1, root + 13)
    )
    tones = [root, fifth, root + 12, third, fifth + 12]
    if len(chord.pitch_classes) > 3:
        tones[2] = pitch_in_range(chord.pitch_classes[3], root + 10, root + 22)
    if plan.energy <= 1:
        pattern = [0, 1, 2, 3]
        step_len = 4
    else:
        pattern = [0, 1, 2, 3, 4, 3, 2, 1]
        step_len = 2
    bar_end = clock.at(bar + 1, 0, human=False) + (1.5 if final_bar else 0.05)
    for i, idx in enumerate(pattern):
        if final_bar and i >= 4:
            break
        t0 = clock.at(bar, i * step_len)
        _add(inst, tones[idx], t0, bar_end, level - (0 if i == 0 else 10) + rng.normal(0, 4))


def _bass(
    inst: pretty_midi.Instrument,
    style: Style,
    plan: MusicPlan,
    chords: list[Chord],
    sections: list[Section],
    clock: _Clock,
) -> None:
    rng = clock.rng
    last_bar = len(chords) - 1
    for bar, chord in enumerate(chords):
        sec = _section_of(sections, bar)
        if sec.intensity < 0.45 and sec.name == "intro":
            continue
        root = pitch_in_range(chord.root_pc, 33, 45)
        fifth = root + 7 if root + 7 < 52 else root - 5
        nxt = chords[bar + 1] if bar < last_bar else chords[0]
        next_root = pitch_in_range(nxt.root_pc, 33, 45)
        approach = (
            next_root - 1
            if style.name == "lofi"
            else (next_root + 2 if next_root + 2 < 50 else next_root - 2)
        )
        kind = style.bass_kind if sec.intensity >= 0.5 else "whole"
        if not plan.loop and bar == last_bar and bar > 0:
            kind = "final"
        notes: list[tuple[int, int, int]]
        if kind == "halves":
            notes = [(0, 8, root), (8, 8, fifth)]
        elif kind == "lofi":
            notes = [(0, 7, root), (10, 3, fifth), (14, 2, approach)]
        elif kind == "eighths":
            notes = [
                (s, 2, root if s < 12 or plan.energy < 4 else (fifth if s == 12 else approach))
                for s in range(0, 16, 2)
            ]
        elif kind == "octaves":
            notes = [(s, 2, root if (s // 2) % 2 == 0 else root + 12) for s in range(0, 16, 2)]
        elif kind == "offbeat":
            notes = [(s, 2, root) for s in (2, 6, 10, 14)]
        elif kind == "folk":
            notes = [(0, 8, root), (8, 6, fifth), (14, 2, approach)]
        else:
            notes = [(0, 16, root)]
        for step, length, pitch in notes:
            t0 = clock.at(bar, step)
            gate = 0.6 if length <= 2 else 0.92
            end = t0 + clock.beat_s * length / 4.0 * gate
            if kind == "final":
                end = clock.at(bar + 1, 0, human=False) + 0.8
            _add(inst, pitch, t0, end, 92 + 10 * sec.intensity + (6 if step == 0 else 0) + rng.normal(0, 3))


def _drums(
    inst: pretty_midi.Instrument,
    style: Style,
    plan: MusicPlan,
    sections: list[Section],
    bars: int,
    clock: _Clock,
) -> None:
    assert style.drum_kind is not None
    groove = GROOVES[style.drum_kind]
    rng = clock.rng
    energy = plan.energy
    for bar in range(bars):
        sec = _section_of(sections, bar)
        final_bar = not plan.loop and bar == bars - 1 and bars > 1
        if sec.intensity < 0.5 and sec.name != "bridge":
            continue
        if final_bar:
            t0 = clock.at(bar, 0, human=False)
            _add(inst, DRUM["kick"], t0, t0 + 0.3, 100)
            if energy >= 3:
                _add(inst, DRUM["crash"], t0, t0 + 1.5, 90)
            continue
        section_start = bar == sec.start_bar and sec.name in ("A", "B") and bar > 0
        if section_start and energy >= 3 and sec.intensity >= 0.8:
            t0 = clock.at(bar, 0, human=False)
            _add(inst, DRUM["crash"], t0, t0 + 1.2, 88)
        sparse = sec.name == "bridge" or sec.intensity < 0.7
        fill = bar == sec.end_bar - 1 and bar < bars - 1 and energy >= 3 and not sparse
        for name, pattern in groove.items():
            if sparse and name not in ("kick", "hat", "shaker", "rim"):
                continue
            for step, ch in enumerate(pattern):
                if ch == "." or (fill and step >= 12):
                    continue
                vel = (96 if ch == "x" else 62) * (0.75 + 0.25 * sec.intensity) + rng.normal(0, 5)
                t0 = clock.at(bar, step)
                _add(inst, DRUM[name], t0, t0 + 0.12, vel)
            if name in ("hat", "shaker") and energy >= 4 and not sparse:
                for step in range(1, 16, 2):
                    if pattern[step] != ".":
                        continue
                    t0 = clock.at(bar, step)
                    _add(inst, DRUM[name], t0, t0 + 0.08, 44 + rng.normal(0, 5))
        if style.drum_kind == "four" and energy >= 4 and not sparse:
            for step in range(0, 16, 2):
                t0 = clock.at(bar, step)
                _add(inst, DRUM["hat"], t0, t0 + 0.05, 48 + rng.normal(0, 4))
        if fill:
            names = (
                ["snare", "snare", "tom_mid", "tom_low"]
                if style.drum_kind != "epic"
                else ["tom_high", "tom_mid", "tom_low", "tom_low"]
            )
            for i, step in enumerate((12, 13, 14, 15)):
                t0 = clock.at(bar, step)
                _add(inst, DRUM[names[i]], t0, t0 + 0.1, 70 + 8 * i + rng.normal(0, 3))


def _timpani(
    inst: pretty_midi.Instrument, chords: list[Chord], sections: list[Section], clock: _Clock
) -> None:
    for bar, chord in enumerate(chords):
        sec = _section_of(sections, bar)
        if sec.intensity < 0.8 and bar != len(chords) - 1:
            continue
        root = pitch_in_range(chord.root_pc, 38, 50)
        t0 = clock.at(bar, 0, human=False)
        _add(inst, root, t0, t0 + clock.beat_s * 2, 100)
        if sec.intensity >= 1.0:
            t1 = clock.at(bar, 12)
            _add(inst, root, t1, t1 + clock.beat_s, 80)


# ---------------------------------------------------------------------------------------------- melody


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


def _melody(
    inst: pretty_midi.Instrument,
    style: Style,
    plan: MusicPlan,
    chords: list[Chord],
    sections: list[Section],
    clock: _Clock,
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
        prng = _rng(plan.seed, f"melody-{name}-{variant if variant < 2 else 0}")
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
                _add(inst, pitch, t0, end, velocity)
                # the chorus thickens: a diatonic third below on the longer notes
                lower = idx - 2
                if (
                    harmonise
                    and sec.name == "B"
                    and length >= 4
                    and lower % 7 != avoid
                    and lower >= idx_low - 2
                ):
                    _add(inst, scale_pitch(tonic, mode, lower, 0), t0 + 0.004, end, velocity - 16)
    if not plan.loop and len(chords) > 1:
        t0 = clock.at(last_bar, 0)
        _add(
            inst, scale_pitch(tonic, mode, mid - (mid % 7), 0), t0, clock.at(last_bar + 1, 0, human=False), 70
        )


# ---------------------------------------------------------------------------------------------- entry


def _fix_overlaps(inst: pretty_midi.Instrument) -> None:
    """A synthesizer's note-off ends every voice of that key, so same-key notes must not overlap: a note
    starting within 15 ms of another on the same key is a double hit and is dropped; others are trimmed."""
    inst.notes.sort(key=lambda n: (n.pitch, n.start))
    kept: list[pretty_midi.Note] = []
    for note in inst.notes:
        prev = kept[-1] if kept and kept[-1].pitch == note.pitch else None
        if prev is not None and note.start - prev.start < 0.015:
            prev.velocity = max(prev.velocity, note.velocity)
            prev.end = max(prev.end, note.end)
            continue
        if prev is not None and prev.end > note.start - 0.005:
            prev.end = note.start - 0.005
        kept.append(note)
    inst.notes = sorted(kept, key=lambda n: (n.start, n.pitch))


def arrange(plan: MusicPlan) -> Arrangement:
    """Compose the notes for ``plan``."""
    base_rng = _rng(plan.seed, "style")
    style = style_for(plan, base_rng)
    bpm, bars = fit_tempo(plan.bpm, plan.duration_s, loop=plan.loop)
    sections = plan_sections(bars, loop=plan.loop)
    chords = _chords_for(plan, style, sections, bars, _rng(plan.seed, "harmony"))
    jitter = 0.010 if style.name == "lofi" else 0.004
    midi = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    parts: list[Part] = []
    final = not plan.loop

    def part(
        role: str, program: int, channel: int, volume: int, pan: int, drum: bool = False
    ) -> tuple[pretty_midi.Instrument, _Clock]:
        inst = pretty_midi.Instrument(program=program, is_drum=drum, name=role)
        midi.instruments.append(inst)
        half = role in ("pad", "bass", "timpani") or (role == "comp" and style.comp_kind == "ostinato")
        parts.append(Part(role, inst, channel, volume, pan, half_rate=half))
        return inst, _Clock(bpm, style.swing, _rng(plan.seed, role), 0.003 if drum else jitter)

    if style.pad_program is not None:
        inst, clock = part("pad", style.pad_program, 0, 78, 64)
        _pads(inst, chords, sections, clock, final)
    if style.comp_kind != "none":
        inst, clock = part("comp", style.comp_program, 1, 96, 50)
        _comp(inst, style, plan, chords, sections, clock)
    if style.bass_kind != "none":
        inst, clock = part("bass", style.bass_program, 2, 104, 64)
        _bass(inst, style, plan, chords, sections, clock)
    if style.melody_program is not None:
        inst, clock = part("melody", style.melody_program, 3, 100, 76)
        _melody(inst, style, plan, chords, sections, clock)
    if style.drum_kind is not None:
        inst, clock = part("drums", 0, 9, 100, 64, drum=True)
        _drums(inst, style, plan, sections, bars, clock)
    if style.timpani:
        inst, clock = part("timpani", GM["timpani"], 4, 100, 64)
        _timpani(inst, chords, sections, clock)
    for p in parts:
        _fix_overlaps(p.instrument)
    music_end = bars * 240.0 / bpm
    return Arrangement(
        midi=midi,
        parts=parts,
        bpm=bpm,
        bars=bars,
        sections=sections,
        style=style,
        chords=chords,
        music_end_s=music_end,
        notes_per_role={p.role: len(p.instrument.notes) for p in parts},
    )
