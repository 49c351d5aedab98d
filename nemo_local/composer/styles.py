"""Per-genre arranging decisions: instruments, grooves, harmony flavour and production character.

A :class:`Style` is data, chosen from the plan (genre, mood, energy, requested instruments) with a seeded
random generator, so two seeds of the same prompt can differ in timbre and groove yet stay in the genre.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from nemo_local.composer.plan import MusicPlan

# General MIDI programs (0-based).
GM = {
    "piano": 0,
    "bright piano": 1,
    "electric piano": 4,
    "glockenspiel": 9,
    "music box": 10,
    "vibes": 11,
    "marimba": 12,
    "nylon guitar": 24,
    "steel guitar": 25,
    "clean guitar": 27,
    "acoustic bass": 32,
    "finger bass": 33,
    "pick bass": 34,
    "synth bass": 38,
    "synth bass 2": 39,
    "cello": 42,
    "contrabass": 43,
    "pizzicato": 45,
    "harp": 46,
    "timpani": 47,
    "strings": 48,
    "slow strings": 49,
    "synth strings": 50,
    "choir": 52,
    "trumpet": 56,
    "french horn": 60,
    "brass": 61,
    "alto sax": 65,
    "clarinet": 71,
    "flute": 73,
    "square lead": 80,
    "saw lead": 81,
    "new age pad": 88,
    "warm pad": 89,
    "polysynth": 90,
    "choir pad": 91,
    "halo pad": 94,
    "sweep pad": 95,
}

# Major / minor progressions as scale degrees (0 = tonic), one chord per bar.
PROGRESSIONS: dict[str, dict[str, list[list[int]]]] = {
    "pop": {
        "major": [[0, 4, 5, 3], [0, 5, 3, 4], [5, 3, 0, 4], [0, 3, 5, 4], [3, 0, 4, 5], [0, 2, 3, 4]],
        "minor": [[0, 5, 2, 6], [0, 3, 5, 4], [0, 6, 5, 6], [5, 6, 0, 0], [0, 5, 3, 4], [0, 3, 6, 2]],
    },
    "jazzy": {
        "major": [[1, 4, 0, 5], [0, 5, 1, 4], [3, 2, 1, 0], [0, 2, 3, 4], [3, 4, 2, 5]],
        "minor": [[0, 3, 6, 2], [3, 6, 2, 5], [0, 5, 1, 4], [5, 4, 0, 0], [0, 3, 0, 4]],
    },
    "modal": {
        "major": [[0, 3, 0, 4], [0, 5, 3, 3], [3, 0, 3, 4], [0, 0, 3, 3]],
        "minor": [[0, 5, 0, 6], [0, 3, 5, 5], [5, 5, 0, 0], [0, 6, 3, 0]],
    },
}


@dataclass(frozen=True)
class Style:
    """How one track is arranged and produced."""

    name: str
    harmony: str  # key into PROGRESSIONS
    sevenths: bool
    melody_program: int | None
    melody_range: tuple[int, int]
    comp_kind: str  # rhodes | arpeggio | strum | pulse | arp16 | ostinato | none
    comp_program: int
    pad_program: int | None
    bass_kind: str  # whole | halves | lofi | eighths | octaves | offbeat | folk | none
    bass_program: int
    drum_kind: str | None  # boombap | pop | four | folk | epic | None
    swing: float
    timpani: bool
    reverb_wet: float
    reverb_seconds: float
    lofi_fx: bool
    brightness_hz: float  # master low-pass corner; lower for calm styles


def _pick(rng: np.random.Generator, options: list[int]) -> int:
    return options[int(rng.integers(len(options)))]


def _base_style(plan: MusicPlan, rng: np.random.Generator) -> Style:
    e = plan.energy
    genre = plan.genre
    if genre == "lofi":
        return Style(
            name="lofi",
            harmony="jazzy",
            sevenths=True,
            melody_program=_pick(rng, [GM["vibes"], GM["electric piano"], GM["flute"], GM["piano"]]),
            melody_range=(64, 84),
            comp_kind="rhodes",
            comp_program=GM["electric piano"],
            pad_program=GM["warm pad"] if e >= 2 else None,
            bass_kind="lofi" if e >= 2 else "halves",
            bass_program=_pick(rng, [GM["finger bass"], GM["acoustic bass"]]),
            drum_kind="boombap",
            swing=float(rng.uniform(0.56, 0.62)),
            timpani=False,
            reverb_wet=0.16,
            reverb_seconds=1.4,
            lofi_fx=True,
            brightness_hz=5200.0,
        )
    if genre == "ambient":
        return Style(
            name="ambient",
            harmony="modal",
            sevenths=True,
            melody_program=_pick(rng, [GM["piano"], GM["music box"], GM["vibes"]]),
            melody_range=(67, 88),
            comp_kind="arpeggio" if e >= 2 else "none",
            comp_program=GM["harp"],
            pad_program=_pick(rng, [GM["warm pad"], GM["halo pad"], GM["choir pad"]]),
            bass_kind="whole",
            bass_program=GM["cello"],
            drum_kind=None,
            swing=0.5,
            timpani=False,
            reverb_wet=0.42,
            reverb_seconds=3.2,
            lofi_fx=False,
            brightness_hz=9000.0,
        )
    if genre == "cinematic":
        epic = plan.mood in ("epic", "energetic") or e >= 4
        build = plan.shape == "build"  # a trailer build-up ends on drums and timpani
        return Style(
            name="cinematic",
            harmony="pop" if plan.mode == "major" else "modal",
            sevenths=False,
            melody_program=GM["brass"]
            if epic
            else _pick(rng, [GM["french horn"], GM["slow strings"], GM["flute"]]),
            melody_range=(58, 79) if epic else (62, 84),
            comp_kind="ostinato" if e >= 3 else "arpeggio",
            comp_program=GM["strings"] if e >= 3 else GM["harp"],
            pad_program=GM["choir"] if epic else GM["slow strings"],
            bass_kind="whole",
            bass_program=GM["contrabass"],
            drum_kind="epic" if e >= 4 or build else None,
            swing=0.5,
            timpani=epic or build,
            reverb_wet=0.34,
            reverb_seconds=2.6,
            lofi_fx=False,
            brightness_hz=12000.0,
        )
    if genre == "corporate":
        return Style(
            name="corporate",
            harmony="pop",
            sevenths=False,
            melody_program=_pick(rng, [GM["glockenspiel"], GM["piano"], GM["marimba"]]),
            melody_range=(67, 88),
            comp_kind="pulse",
            comp_program=_pick(rng, [GM["piano"], GM["clean guitar"]]),
            pad_program=GM["strings"],
            bass_kind="eighths" if e >= 3 else "halves",
            bass_program=_pick(rng, [GM["finger bass"], GM["pick bass"]]),
            drum_kind="pop",
            swing=0.5,
            timpani=False,
            reverb_wet=0.14,
            reverb_seconds=1.3,
            lofi_fx=False,
            brightness_hz=16000.0,
        )
    if genre == "acoustic":
        return Style(
            name="acoustic",
            harmony="pop",
            sevenths=False,
            melody_program=_pick(rng, [GM["flute"], GM["glockenspiel"], GM["nylon guitar"], GM["clarinet"]]),
            melody_range=(65, 86),
            comp_kind="strum" if e >= 3 else "arpeggio",
            comp_program=GM["steel guitar"],
            pad_program=GM["strings"] if e >= 3 else None,
            bass_kind="folk" if e >= 3 else "halves",
            bass_program=GM["acoustic bass"],
            drum_kind="folk",
            swing=0.5,
            timpani=False,
            reverb_wet=0.14,
            reverb_seconds=1.2,
            lofi_fx=False,
            brightness_hz=15000.0,
        )
    if genre == "electronic":
        return Style(
            name="electronic",
            harmony="pop" if plan.mode == "major" else "modal",
            sevenths=False,
            melody_program=_pick(rng, [GM["saw lead"], GM["square lead"]]),
            melody_range=(64, 84),
            comp_kind="arp16",
            comp_program=_pick(rng, [GM["polysynth"], GM["square lead"]]),
            pad_program=_pick(rng, [GM["warm pad"], GM["polysynth"], GM["synth strings"]]),
            bass_kind="offbeat" if rng.random() < 0.5 else "octaves",
            bass_program=_pick(rng, [GM["synth bass"], GM["synth bass 2"]]),
            drum_kind="four",
            swing=0.5,
            timpani=False,
            reverb_wet=0.18,
            reverb_seconds=1.6,
            lofi_fx=False,
            brightness_hz=18000.0,
        )
    # piano (also the fallback)
    return Style(
        name="piano",
        harmony="pop",
        sevenths=plan.mood in ("romantic", "chill"),
        melody_program=GM["piano"],
        melody_range=(62, 86),
        comp_kind="arpeggio",
        comp_program=GM["piano"],
        pad_program=GM["slow strings"] if (e >= 2 or plan.mood == "romantic") else None,
        bass_kind="none",
        bass_program=GM["contrabass"],
        drum_kind=None,
        swing=0.5,
        timpani=False,
        reverb_wet=0.28,
        reverb_seconds=2.2,
        lofi_fx=False,
        brightness_hz=11000.0,
    )


_MELODY_INSTRUMENTS = {
    "flute": GM["flute"],
    "brass": GM["brass"],
    "bells": GM["glockenspiel"],
    "marimba": GM["marimba"],
    "sax": GM["alto sax"],
    "vibes": GM["vibes"],
    "synth": GM["saw lead"],
}
_COMP_INSTRUMENTS = {
    "piano": ("arpeggio", GM["piano"]),
    "electric piano": ("rhodes", GM["electric piano"]),
    "guitar": ("strum", GM["steel guitar"]),
    "harp": ("arpeggio", GM["harp"]),
}
_PAD_INSTRUMENTS = {"strings": GM["strings"], "pad": GM["warm pad"], "choir": GM["choir"]}


def style_for(plan: MusicPlan, rng: np.random.Generator) -> Style:
    """The style for ``plan``: genre defaults, then mood colour, then the instruments the prompt asked for."""
    style = _base_style(plan, rng)
    if plan.mood in ("dark", "sad"):
        style = replace(style, brightness_hz=min(style.brightness_hz, 9000.0), harmony="modal")
    for name in plan.instruments:
        if name in _MELODY_INSTRUMENTS:
            style = replace(style, melody_program=_MELODY_INSTRUMENTS[name])
        elif name in _COMP_INSTRUMENTS and not (name == "piano" and style.name in ("piano",)):
            kind, program = _COMP_INSTRUMENTS[name]
            keep_kind = (
                style.comp_kind if style.comp_kind in ("rhodes", "pulse") and name == "piano" else kind
            )
            style = replace(style, comp_kind=keep_kind, comp_program=program)
            if name == "piano" and style.melody_program is not None and style.name == "lofi":
                style = replace(style, melody_program=GM["piano"])
        elif name in _PAD_INSTRUMENTS:
            style = replace(style, pad_program=_PAD_INSTRUMENTS[name])
        elif name == "bass" and style.bass_kind == "none":
            style = replace(style, bass_kind="halves", bass_program=GM["acoustic bass"])
        elif name == "drums" and style.drum_kind is None:
            style = replace(style, drum_kind="pop" if plan.energy >= 3 else "folk")
    if not plan.drums:
        style = replace(style, drum_kind=None, timpani=False)
    if plan.energy <= 1 and style.drum_kind in ("pop", "four", "epic"):
        style = replace(style, drum_kind="folk")
    return style


# Mix levels (dB, relative) per role and style: the melody leads, pads sit underneath.
_LEVELS: dict[str, dict[str, float]] = {
    "default": {"melody": 0.0, "comp": -3.0, "pad": -9.0, "bass": -2.0, "drums": -1.0, "timpani": -5.0},
    "lofi": {"melody": -1.5, "comp": -2.0, "pad": -11.0, "bass": -2.0, "drums": 0.0},
    "ambient": {"melody": -2.0, "comp": -5.0, "pad": 0.0, "bass": -7.0},
    "cinematic": {"melody": 0.0, "comp": -3.0, "pad": -4.0, "bass": -4.0, "drums": -1.0, "timpani": -3.0},
    "piano": {"melody": 0.0, "comp": -2.5, "pad": -10.0, "bass": -4.0},
    "electronic": {"melody": -1.0, "comp": -3.0, "pad": -8.0, "bass": -2.0, "drums": 0.0},
    "corporate": {"melody": -1.0, "comp": -2.0, "pad": -10.0, "bass": -3.0, "drums": -1.0},
    "acoustic": {"melody": 0.0, "comp": -1.0, "pad": -10.0, "bass": -3.0, "drums": -4.0},
}


def mix_levels(style: Style, energy: int) -> dict[str, float]:
    """Relative level of each role for ``style``; calm tracks pull the drums back."""
    levels = {**_LEVELS["default"], **_LEVELS.get(style.name, {})}
    if energy <= 2 and "drums" in levels:
        levels["drums"] -= 3.0
    return levels
