"""Accompaniment: pads, comping figures (rhodes, pulses, arpeggios, strums, ostinati) and bass lines."""

from __future__ import annotations

import pretty_midi

from nemo_local.composer.form import Section
from nemo_local.composer.notes import Clock, add_note, section_at
from nemo_local.composer.plan import MusicPlan
from nemo_local.composer.styles import Style
from nemo_local.composer.theory import Chord, pitch_in_range, voice_chord


def pads(
    inst: pretty_midi.Instrument, chords: list[Chord], sections: list[Section], clock: Clock, final: bool
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
        sec = section_at(sections, bar)
        vel = 48 + 28 * sec.intensity
        start = clock.at(bar, 0, human=False)
        end = clock.at(bar + span, 0, human=False) + (0.6 if final and bar + span >= hold_until else 0.02)
        for p in voicing:
            add_note(inst, p, start, end, vel)
        bar += span


def comp(
    inst: pretty_midi.Instrument,
    style: Style,
    plan: MusicPlan,
    chords: list[Chord],
    sections: list[Section],
    clock: Clock,
) -> None:
    rng = clock.rng
    previous: list[int] | None = None
    kind = style.comp_kind
    last_bar = len(chords) - 1
    for bar, chord in enumerate(chords):
        sec = section_at(sections, bar)
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
                    add_note(
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
                    add_note(inst, p, t0, t0 + dur, level - 8 + accent + rng.normal(0, 3))
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
                    add_note(inst, p, t0 + 0.009 * i, end, (level if down else level - 14) + rng.normal(0, 4))


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
    clock: Clock,
) -> None:
    rng = clock.rng
    if kind == "ostinato":
        root = pitch_in_range(chord.root_pc, 38, 50)
        figure = [root, root, root + 12, root, root, root + 7, root + 12, root]
        for i, p in enumerate(figure if not final_bar else figure[:1]):
            t0 = clock.at(bar, i * 2)
            dur = clock.beat_s * (2.0 if final_bar else 0.42)
            add_note(inst, p, t0, t0 + dur, level + (10 if i % 4 == 0 else 0) + rng.normal(0, 3))
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
            add_note(
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
        add_note(inst, tones[idx], t0, bar_end, level - (0 if i == 0 else 10) + rng.normal(0, 4))


def bass(
    inst: pretty_midi.Instrument,
    style: Style,
    plan: MusicPlan,
    chords: list[Chord],
    sections: list[Section],
    clock: Clock,
) -> None:
    rng = clock.rng
    last_bar = len(chords) - 1
    for bar, chord in enumerate(chords):
        sec = section_at(sections, bar)
        if sec.intensity < 0.45 and sec.name == "intro":
            continue
        # a build-up rises over a tonic pedal (the trailer idiom): the key stays plain while layers pile up
        pedal = plan.shape == "build"
        root = pitch_in_range(plan.tonic_pitch_class if pedal else chord.root_pc, 33, 45)
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
            add_note(
                inst, pitch, t0, end, 92 + 10 * sec.intensity + (6 if step == 0 else 0) + rng.normal(0, 3)
            )
