"""The symbolic arrangement: form, harmony, melody, groove and instrumentation follow the plan."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from nemo_local.composer import parse_prompt
from nemo_local.composer.arrange import arrange
from nemo_local.composer.form import fit_tempo, plan_sections
from nemo_local.composer.theory import SCALES


def _roles(prompt: str, **kw: object) -> dict[str, list]:
    arr = arrange(parse_prompt(prompt, **kw))  # type: ignore[arg-type]
    return {p.role: p.instrument.notes for p in arr.parts}


@pytest.mark.parametrize("seconds", [5.0, 30.0, 60.0, 125.0])
def test_form_fills_the_duration(seconds: float) -> None:
    bpm, bars = fit_tempo(84, seconds, loop=False)
    assert abs(bars * 240 / bpm - seconds) < 1e-6 or bars * 240 / bpm >= seconds
    sections = plan_sections(bars, loop=False)
    assert sections[0].start_bar == 0 and sections[-1].end_bar == bars
    assert all(a.end_bar == b.start_bar for a, b in itertools.pairwise(sections))
    if bars >= 9:
        assert sections[0].name == "intro" and sections[-1].name == "outro"
        assert {"A", "B"} <= {s.name for s in sections}


def test_loops_have_no_intro_or_outro() -> None:
    _, bars = fit_tempo(90, 32.0, loop=True)
    names = {s.name for s in plan_sections(bars, loop=True)}
    assert "intro" not in names and "outro" not in names


def test_chords_are_diatonic_and_the_track_ends_on_the_tonic() -> None:
    plan = parse_prompt("happy acoustic in D major, 40 seconds, seed 3")
    arr = arrange(plan)
    scale = {(plan.tonic_pitch_class + s) % 12 for s in SCALES["major"]}
    for chord in arr.chords:
        assert set(chord.pitch_classes) <= scale
    assert arr.chords[-1].root_pc == plan.tonic_pitch_class


def test_melody_lands_on_chord_tones_on_strong_beats() -> None:
    for seed in range(6):
        arr = arrange(parse_prompt(f"upbeat corporate 40 seconds seed {seed}"))
        bar_s = 240.0 / arr.bpm
        melody = next(p for p in arr.parts if p.role == "melody").instrument.notes
        strong = [n for n in melody if ((n.start + 0.03) % bar_s) / bar_s * 16 < 0.6]
        hits = sum(
            n.pitch % 12 in arr.chords[min(int((n.start + 0.03) / bar_s), arr.bars - 1)].pitch_classes
            for n in strong
        )
        assert hits >= 0.9 * len(strong)


def test_lofi_swings_and_ambient_has_no_drums() -> None:
    lofi = arrange(parse_prompt("chill lo-fi 30 seconds seed 2"))
    assert lofi.style.swing > 0.55
    drums = next(p for p in lofi.parts if p.role == "drums").instrument.notes
    beat = 60.0 / lofi.bpm
    offbeat_hats = [
        ((n.start % beat) / beat) for n in drums if n.pitch == 42 and 0.3 < (n.start % beat) / beat < 0.8
    ]
    assert offbeat_hats and np.median(offbeat_hats) > 0.54  # the "and" comes late: swing
    assert "drums" not in _roles("calm ambient 30 seconds")


def test_energy_changes_density() -> None:
    calm = _roles("calm piano 30 seconds seed 4")
    busy = _roles("energetic electronic 30 seconds seed 4")
    assert sum(map(len, busy.values())) > 3 * sum(map(len, calm.values()))


def test_requested_instruments_and_no_drums() -> None:
    arr = arrange(parse_prompt("chill lo-fi with flute and strings, no drums, 20 seconds"))
    programs = {p.role: p.instrument.program for p in arr.parts}
    assert programs["melody"] == 73  # flute
    assert programs["pad"] == 48  # strings
    assert "drums" not in programs


def test_bass_stays_low_and_notes_never_overlap_on_one_key() -> None:
    arr = arrange(parse_prompt("happy acoustic 30 seconds seed 8"))
    bass = next(p for p in arr.parts if p.role == "bass").instrument.notes
    assert all(28 <= n.pitch <= 52 for n in bass)
    for part in arr.parts:
        by_key: dict[int, list] = {}
        for n in part.instrument.notes:
            by_key.setdefault(n.pitch, []).append(n)
        for notes in by_key.values():
            notes.sort(key=lambda n: n.start)
            assert all(a.end <= b.start + 1e-9 for a, b in itertools.pairwise(notes))


def test_different_seeds_give_different_notes() -> None:
    a = arrange(parse_prompt("chill lo-fi 20 seconds seed 1"))
    b = arrange(parse_prompt("chill lo-fi 20 seconds seed 2"))
    notes_a = [(n.pitch, round(n.start, 2)) for p in a.parts for n in p.instrument.notes]
    notes_b = [(n.pitch, round(n.start, 2)) for p in b.parts for n in p.instrument.notes]
    assert notes_a != notes_b
