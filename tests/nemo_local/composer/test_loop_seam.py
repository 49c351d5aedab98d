"""A loop's wrap is an ordinary moment: held notes tie over it, held voices anticipate it, the last notes
ring into the first attack, and the loop is cut at its lightest bar line (nemo_local.composer.loop_seam)."""

from __future__ import annotations

import itertools

import pretty_midi

from nemo_local.composer import parse_prompt
from nemo_local.composer.arrange import arrange
from nemo_local.composer.form import Section
from nemo_local.composer.loop_seam import anticipate, ring_over, rotate_sections, tie_across_seam

LOOP_S, BAR_S = 8.0, 4.0


def _inst(*notes: tuple[float, float, int]) -> pretty_midi.Instrument:
    inst = pretty_midi.Instrument(program=0, name="melody")
    inst.notes = [pretty_midi.Note(90, p, s, e) for s, e, p in notes]
    return inst


def _as_tuples(inst: pretty_midi.Instrument) -> list[tuple[float, float, int]]:
    return sorted((round(n.start, 3), round(n.end, 3), n.pitch) for n in inst.notes)


def test_a_held_pitch_is_tied_across_the_wrap_and_a_repeated_one_keeps_its_downbeat() -> None:
    held = _inst((0.0, 2.0, 60), (4.0, 7.95, 60))
    tie_across_seam(held, LOOP_S, BAR_S)
    assert _as_tuples(held) == [(4.0, 10.0, 60)], "one note from its last strike into the next pass"
    # the same pitch struck again later in the loop is no tie: the downbeat note stays
    repeated = _inst((0.0, 0.15, 42), (0.25, 0.4, 42), (7.75, 7.9, 44))
    tie_across_seam(repeated, LOOP_S, BAR_S)
    assert (0.0, 0.15, 42) in _as_tuples(repeated)


def test_a_held_voice_anticipates_the_first_note_and_ties_it_over() -> None:
    melody = _inst((0.0, 2.0, 72), (2.0, 3.98, 74), (4.0, 7.98, 76))
    anticipate(melody, LOOP_S, BAR_S)
    tie_across_seam(melody, LOOP_S, BAR_S)
    notes = _as_tuples(melody)
    assert not [n for n in notes if n[0] <= 0.05], "nothing strikes on the wrap"
    assert (7.0, 10.0, 72) in notes and (4.0, 7.0, 76) in notes, notes
    # a voice moving in the last beat anyway is left as it is
    walking = _inst((0.0, 1.0, 40), (4.0, 6.9, 43), (7.0, 7.9, 45))
    anticipate(walking, LOOP_S, BAR_S)
    assert _as_tuples(walking) == [(0.0, 1.0, 40), (4.0, 6.9, 43), (7.0, 7.9, 45)]


def test_the_last_notes_ring_into_the_first_attack_but_never_over_their_own_key() -> None:
    inst = _inst((0.0, 1.0, 60), (0.1, 1.0, 64), (7.0, 7.9, 67), (7.0, 7.9, 64))
    ring_over(inst, LOOP_S, BAR_S)
    notes = _as_tuples(inst)
    assert (7.0, LOOP_S + BAR_S / 16, 67) in notes
    assert (7.0, 8.095, 64) in notes, "released before its key strikes again (at 0.1 s)"


def test_sections_of_a_cut_loop_still_tile_it() -> None:
    sections = [Section("A", 0, 4, 0.8), Section("B", 4, 4, 1.0)]
    cut = rotate_sections(sections, 8, 2)
    assert cut[0].start_bar == 0 and cut[-1].end_bar == 8
    assert all(a.end_bar == b.start_bar for a, b in itertools.pairwise(cut))
    assert [(s.name, s.bars) for s in cut] == [("A", 2), ("B", 4), ("A", 2)]


def test_short_ambient_loops_strike_no_pitched_voice_on_the_wrap() -> None:
    """Before: every voice struck on an ambient loop's downbeat (docs/quality.md)."""
    for seed in range(4):
        arr = arrange(parse_prompt("dark ambient loop", duration_s=8.0, seed=seed))
        assert arr.bars == 2
        struck = [p.role for p in arr.parts for n in p.instrument.notes if n.start <= 0.05]
        assert not struck, (seed, struck)
