"""A loop's seam: where the pattern is cut and what sounds across the wrap.

A loop is heard as the same few bars over and over, so its wrap must sound like any other moment of
it. Composing starts every voice on bar 1 (the first chord, the bass, the melody's phrase), so a loop's
downbeat is often the one moment where every voice strikes at once, after each has let go of the last
bar; a short loop has few other moments as eventful. Four things make the wrap ordinary:

* held notes are tied across it: a pitch held to the loop's end that also starts the loop is one note
  (the engine folds the part past the end onto the start);
* a voice held into the end that would move to other pitches on the wrap anticipates them by a beat
  (the melody's last note steps to the loop's first, a pad's next chord arrives on beat 4), tied over;
* the last notes ring into the first attack (released a sixteenth after the wrap), not let go before it;
* the loop is cut at its lightest bar line: a loop may start at any bar of its pattern (as a producer
  cuts one from a longer take), and the one where the least new sound enters is chosen.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TypeVar

import pretty_midi

from nemo_local.composer.form import Section

_SEAM_S = 0.05  # a note starting this close to the loop's start is struck on the seam
_ARTICULATION = 1 / 8  # of a bar: a note ending this close to the loop's end is held to it
#: Bar lines a loop may be cut at (the first few: a long loop's many changes hide its seam anyway).
MAX_CUTS = 8
#: Another bar line is chosen only when it is clearly lighter than bar 1 (else the phrase's own start).
_LIGHTER = 0.8
#: How hard an instrument's attack is, relative to a struck one (pads and bowed strings swell in).
_SWELL = 0.25
_BEFORE_S = 0.1  # what sounds this long before the seam is what its strike is heard against
_HALF_LIFE_S = 1.0  # a struck note's level halves in about this long
_FLOOR = 1e-3  # power of the room's tail under everything
_SWELLING_PROGRAMS = frozenset([*range(48, 56), *range(88, 96)])  # strings, choir; synth pads

T = TypeVar("T")


def tie_across_seam(inst: pretty_midi.Instrument, loop_s: float, bar_s: float) -> None:
    """A loop's held notes do not re-strike at the wrap: a pitch held to the loop's end that also starts
    the loop becomes one note from its last strike into the next pass, so the seam sounds like any other
    moment the note is held (a repeated bass note, a pad's chord); "held to the end" allows the part's
    articulation gap. A note held through the whole loop (an ambient pad's one chord) is struck at the
    middle bar instead of on the seam: struck once per pass either way, but never with every other voice
    at the wrap."""
    firsts = {n.pitch: n for n in inst.notes if n.start <= _SEAM_S}
    kept, tied = [], set()
    for note in inst.notes:
        first = firsts.get(note.pitch)
        if first is None or note.end < loop_s - max(_SEAM_S, _ARTICULATION * bar_s):
            kept.append(note)
        elif first is note:  # held through the whole loop
            bars = round(loop_s / bar_s)
            if bars >= 2:
                mid = (bars // 2) * bar_s
                note.start, note.end = mid, loop_s + mid
            kept.append(note)
        else:
            note.end = loop_s + first.end
            kept.append(note)
            tied.add(id(first))
    # only the first notes a held note now continues are dropped (a pitch merely repeated later is not)
    inst.notes = sorted((n for n in kept if id(n) not in tied), key=lambda n: (n.start, n.pitch))


def anticipate(inst: pretty_midi.Instrument, loop_s: float, bar_s: float) -> None:
    """A voice held into the loop's end that would re-attack on the wrap with other pitches moves to
    them a beat early (an anticipation), so they are tied across the seam instead of struck on it. A
    voice that moves in the loop's last beat anyway (a walking bass, an arpeggio) is left alone."""
    at = loop_s - bar_s / 4
    firsts = [n for n in inst.notes if n.start <= _SEAM_S]
    held_to = loop_s - max(_SEAM_S, _ARTICULATION * bar_s)
    held = [n for n in inst.notes if n.end >= held_to and n.start < at - _SEAM_S]
    if not firsts or not held or any(at - _SEAM_S <= n.start < held_to for n in inst.notes):
        return
    first_pitches, held_pitches = {n.pitch for n in firsts}, {n.pitch for n in held}
    if first_pitches <= held_pitches:
        return
    new = first_pitches - held_pitches
    leaving = {id(n) for n in held if n.pitch not in first_pitches}
    for n in inst.notes:
        if n.start < at < n.end and n.pitch in new:
            n.end = at - 0.005  # the key is struck again at ``at``: one voice per key (_fix_overlaps)
        elif id(n) in leaving:
            n.end = at
    inst.notes.extend(
        pretty_midi.Note(n.velocity, n.pitch, at, loop_s) for n in firsts if n.pitch not in held_pitches
    )
    inst.notes.sort(key=lambda n: (n.start, n.pitch))


def ring_over(inst: pretty_midi.Instrument, loop_s: float, bar_s: float) -> None:
    """The loop's last notes ring into its first attack (released a sixteenth after the wrap, where a
    non-loop lets go just before the bar line), so the wrap is a turn of the phrase, not a gap then a
    strike. A note is released before the same key strikes again."""
    held_to = loop_s - max(_SEAM_S, _ARTICULATION * bar_s)
    release = loop_s + bar_s / 16
    by_key: dict[int, list[pretty_midi.Note]] = {}
    for n in inst.notes:
        by_key.setdefault(n.pitch, []).append(n)
    for notes in by_key.values():
        notes.sort(key=lambda n: n.start)
        for i, n in enumerate(notes):
            if held_to <= n.end < loop_s:
                again = notes[i + 1].start if i + 1 < len(notes) else loop_s + notes[0].start
                n.end = max(n.end, min(release, again - 0.005))


def _rotated(notes: Sequence[pretty_midi.Note], shift_s: float, loop_s: float) -> list[pretty_midi.Note]:
    """``notes`` moved ``shift_s`` earlier around the loop: a note that started before the cut starts
    one pass later (its tail past the end is folded onto the start like any other). A note humanised
    to just before the cut's downbeat starts the loop, as bar 1's downbeat is played on time: an attack
    straddling the wrap would be a click."""
    out = []
    for n in notes:
        start = n.start - shift_s
        if start < -_SEAM_S:
            start += loop_s
        start = max(0.0, start)
        out.append(pretty_midi.Note(n.velocity, n.pitch, start, start + n.end - n.start))
    return sorted(out, key=lambda n: (n.start, n.pitch))


def _sealed(
    parts: Sequence[pretty_midi.Instrument], shift_s: float, loop_s: float, bar_s: float
) -> list[list[pretty_midi.Note]]:
    """Each part's notes cut at ``shift_s`` and tied across the seam (drums are struck, never held)."""
    out = []
    for inst in parts:
        probe = pretty_midi.Instrument(program=inst.program, is_drum=inst.is_drum, name=inst.name)
        probe.notes = _rotated(inst.notes, shift_s, loop_s) if shift_s else [_copy(n) for n in inst.notes]
        if not inst.is_drum:
            anticipate(probe, loop_s, bar_s)
            tie_across_seam(probe, loop_s, bar_s)
            ring_over(probe, loop_s, bar_s)
        out.append(probe.notes)
    return out


def _copy(n: pretty_midi.Note) -> pretty_midi.Note:
    return pretty_midi.Note(n.velocity, n.pitch, n.start, n.end)


def _power(inst: pretty_midi.Instrument, levels_db: Mapping[str, float]) -> float:
    weight = 10 ** (levels_db.get(inst.name, 0.0) / 10)
    return weight * _SWELL if not inst.is_drum and inst.program in _SWELLING_PROGRAMS else weight


def _strike(
    parts: Sequence[pretty_midi.Instrument],
    notes: Sequence[Sequence[pretty_midi.Note]],
    loop_s: float,
    levels_db: Mapping[str, float],
) -> float:
    """How much the seam jumps: the power of the notes struck there against what sounds just before
    it (a struck note fades as it rings; a swelling one holds)."""
    struck = held = 0.0
    before = loop_s - _BEFORE_S
    for inst, part_notes in zip(parts, notes, strict=True):
        weight = _power(inst, levels_db)
        fades = inst.is_drum or inst.program not in _SWELLING_PROGRAMS
        for n in part_notes:
            power = weight * (n.velocity / 127) ** 2
            if n.start <= _SEAM_S or n.start >= loop_s - _SEAM_S:
                struck += power
            sounding = n.start < before < n.end or n.start < before + loop_s < n.end
            if sounding:
                age = (before - n.start) % loop_s
                held += power * (0.5 ** (age / _HALF_LIFE_S) if fades else 1.0)
    return math.log((held + struck + _FLOOR) / (held + _FLOOR))


def lightest_cut(
    parts: Sequence[pretty_midi.Instrument], bars: int, bar_s: float, levels_db: Mapping[str, float]
) -> int:
    """The bar line (0-based) to cut the loop at: bar 1 unless another strikes clearly less."""
    loop_s = bars * bar_s
    scores = [
        _strike(parts, _sealed(parts, k * bar_s, loop_s, bar_s), loop_s, levels_db)
        for k in range(min(bars, MAX_CUTS))
    ]
    best = min(range(len(scores)), key=scores.__getitem__)
    return best if scores[best] < _LIGHTER * scores[0] else 0


def seal(
    parts: Sequence[pretty_midi.Instrument], bars: int, bar_s: float, levels_db: Mapping[str, float]
) -> int:
    """Cut the loop at its lightest bar line and tie held notes across the seam, in place; returns the
    bar the loop now starts at (callers rotate their per-bar data, e.g. chords, by as much)."""
    cut = lightest_cut(parts, bars, bar_s, levels_db) if bars >= 2 else 0
    for inst, notes in zip(parts, _sealed(parts, cut * bar_s, bars * bar_s, bar_s), strict=True):
        inst.notes = notes
    return cut


def rotate_bars(items: Sequence[T], cut: int) -> list[T]:
    """Per-bar data of a loop cut at bar ``cut``."""
    return [*items[cut:], *items[:cut]]


def rotate_sections(sections: Sequence[Section], bars: int, cut: int) -> list[Section]:
    """Sections of a loop cut at bar ``cut``: the one the cut falls in is split between end and start."""
    if not cut:
        return list(sections)
    out: list[Section] = []
    for sec in sections:
        start = (sec.start_bar - cut) % bars
        first = min(sec.bars, bars - start)
        out.append(Section(sec.name, start, first, sec.intensity))
        if first < sec.bars:
            out.append(Section(sec.name, 0, sec.bars - first, sec.intensity))
    return sorted(out, key=lambda s: s.start_bar)
