"""Drum grooves (16-step patterns per style, crashes, fills) and orchestral timpani."""

from __future__ import annotations

import pretty_midi

from nemo_local.composer.form import Section
from nemo_local.composer.notes import Clock, add_note, section_at
from nemo_local.composer.plan import MusicPlan
from nemo_local.composer.styles import Style
from nemo_local.composer.theory import Chord, pitch_in_range

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


def drums(
    inst: pretty_midi.Instrument,
    style: Style,
    plan: MusicPlan,
    sections: list[Section],
    bars: int,
    clock: Clock,
) -> None:
    assert style.drum_kind is not None
    groove = GROOVES[style.drum_kind]
    rng = clock.rng
    energy = plan.energy
    for bar in range(bars):
        sec = section_at(sections, bar)
        final_bar = not plan.loop and bar == bars - 1 and bars > 1
        if sec.intensity < 0.5 and sec.name != "bridge":
            continue
        if final_bar:
            t0 = clock.at(bar, 0, human=False)
            add_note(inst, DRUM["kick"], t0, t0 + 0.3, 100)
            if energy >= 3:
                add_note(inst, DRUM["crash"], t0, t0 + 1.5, 90)
            continue
        section_start = bar == sec.start_bar and sec.name in ("A", "B") and bar > 0
        if section_start and energy >= 3 and sec.intensity >= 0.8:
            t0 = clock.at(bar, 0, human=False)
            add_note(inst, DRUM["crash"], t0, t0 + 1.2, 88)
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
                add_note(inst, DRUM[name], t0, t0 + 0.12, vel)
            if name in ("hat", "shaker") and energy >= 4 and not sparse:
                for step in range(1, 16, 2):
                    if pattern[step] != ".":
                        continue
                    t0 = clock.at(bar, step)
                    add_note(inst, DRUM[name], t0, t0 + 0.08, 44 + rng.normal(0, 5))
        if style.drum_kind == "four" and energy >= 4 and not sparse:
            for step in range(0, 16, 2):
                t0 = clock.at(bar, step)
                add_note(inst, DRUM["hat"], t0, t0 + 0.05, 48 + rng.normal(0, 4))
        if fill:
            names = (
                ["snare", "snare", "tom_mid", "tom_low"]
                if style.drum_kind != "epic"
                else ["tom_high", "tom_mid", "tom_low", "tom_low"]
            )
            for i, step in enumerate((12, 13, 14, 15)):
                t0 = clock.at(bar, step)
                add_note(inst, DRUM[names[i]], t0, t0 + 0.1, 70 + 8 * i + rng.normal(0, 3))


def timpani(inst: pretty_midi.Instrument, chords: list[Chord], sections: list[Section], clock: Clock) -> None:
    for bar, chord in enumerate(chords):
        sec = section_at(sections, bar)
        if sec.intensity < 0.8 and bar != len(chords) - 1:
            continue
        root = pitch_in_range(chord.root_pc, 38, 50)
        t0 = clock.at(bar, 0, human=False)
        add_note(inst, root, t0, t0 + clock.beat_s * 2, 100)
        if sec.intensity >= 1.0:
            t1 = clock.at(bar, 12)
            add_note(inst, root, t1, t1 + clock.beat_s, 80)
