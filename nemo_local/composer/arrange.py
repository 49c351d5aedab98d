"""Plan -> symbolic arrangement (a ``pretty_midi.PrettyMIDI``): chords, melody, bass, comping, pads, drums.

Everything random comes from generators seeded by the plan's seed and a fixed label per part, so a part's
notes do not change when another part's logic changes, and the same plan always gives the same notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pretty_midi

from nemo_local.composer import loop_seam
from nemo_local.composer.accompaniment import bass, comp, pads
from nemo_local.composer.drums import drums, timpani
from nemo_local.composer.form import Section, fit_tempo, plan_sections
from nemo_local.composer.melody import melody
from nemo_local.composer.notes import Clock, seeded_rng
from nemo_local.composer.plan import MusicPlan
from nemo_local.composer.styles import GM, PROGRESSIONS, Style, mix_levels, style_for
from nemo_local.composer.theory import Chord, build_chord


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
    base_rng = seeded_rng(plan.seed, "style")
    style = style_for(plan, base_rng)
    bpm, bars = fit_tempo(plan.bpm, plan.duration_s, loop=plan.loop, named=plan.bpm_named)
    sections = plan_sections(bars, loop=plan.loop, shape=plan.shape)
    chords = _chords_for(plan, style, sections, bars, seeded_rng(plan.seed, "harmony"))
    jitter = 0.010 if style.name == "lofi" else 0.004
    midi = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    parts: list[Part] = []
    final = not plan.loop

    def part(
        role: str, program: int, channel: int, volume: int, pan: int, drum: bool = False
    ) -> tuple[pretty_midi.Instrument, Clock]:
        inst = pretty_midi.Instrument(program=program, is_drum=drum, name=role)
        midi.instruments.append(inst)
        half = role in ("pad", "bass", "timpani") or (role == "comp" and style.comp_kind == "ostinato")
        parts.append(Part(role, inst, channel, volume, pan, half_rate=half))
        return inst, Clock(bpm, style.swing, seeded_rng(plan.seed, role), 0.003 if drum else jitter)

    if style.pad_program is not None:
        inst, clock = part("pad", style.pad_program, 0, 78, 64)
        pads(inst, chords, sections, clock, final)
    if style.comp_kind != "none":
        inst, clock = part("comp", style.comp_program, 1, 96, 50)
        comp(inst, style, plan, chords, sections, clock)
    if style.bass_kind != "none":
        inst, clock = part("bass", style.bass_program, 2, 104, 64)
        bass(inst, style, plan, chords, sections, clock)
    if style.melody_program is not None:
        inst, clock = part("melody", style.melody_program, 3, 100, 76)
        melody(inst, style, plan, chords, sections, clock)
    if style.drum_kind is not None:
        inst, clock = part("drums", 0, 9, 100, 64, drum=True)
        drums(inst, style, plan, sections, bars, clock)
    if style.timpani:
        inst, clock = part("timpani", GM["timpani"], 4, 100, 64)
        timpani(inst, chords, sections, clock)
    for p in parts:
        _fix_overlaps(p.instrument)
    music_end = bars * 240.0 / bpm
    if plan.loop:
        cut = loop_seam.seal([p.instrument for p in parts], bars, 240.0 / bpm, mix_levels(style, plan.energy))
        chords = loop_seam.rotate_bars(chords, cut)
        sections = loop_seam.rotate_sections(sections, bars, cut)
        music_end = max([music_end, *(n.end for p in parts for n in p.instrument.notes)])
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
