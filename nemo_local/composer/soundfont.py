"""A SoundFont 2 file -> presets of playable regions, as TinySoundFont reads them.

sf2utils (pure Python, LGPL-3.0+) parses the RIFF structure into the raw "hydra" tables; this module
turns those tables into regions the way TinySoundFont 0.3.7 (``tsf_load_presets``, the version the engine
used to link) does: preset-level generators are added to instrument-level ones, values are clamped to
the SF2 ranges, envelope times go from timecents to seconds, sample offsets become absolute indices
into one float32 array of all samples. Matching TinySoundFont's reading keeps the instruments, levels
and envelopes the engine had. Modulators are ignored, as TinySoundFont ignores them.
"""

from __future__ import annotations

import copy
import functools
import io
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

LOOP_NONE, LOOP_CONTINUOUS, LOOP_SUSTAIN = 0, 1, 2

_GEN_INSTRUMENT, _GEN_KEY_RANGE, _GEN_VEL_RANGE, _GEN_SAMPLE_ID = 41, 43, 44, 53

# generator number -> (Region field, how the amount is read, clamp (factor, low, high) applied when the
# preset's and the instrument's values are summed). Mirrors TinySoundFont's genMetas table.
_FLOAT, _INT, _ADD, _ADD15 = "float", "int", "add", "add15"
_GENERATORS: dict[int, tuple[str, str, tuple[float, float, float] | None]] = {
    0: ("offset", _ADD, None),
    1: ("end", _ADD, None),
    2: ("loop_start", _ADD, None),
    3: ("loop_end", _ADD, None),
    4: ("offset", _ADD15, None),
    5: ("mod_lfo_to_pitch", _INT, (1, -12000, 12000)),
    6: ("vib_lfo_to_pitch", _INT, (1, -12000, 12000)),
    7: ("mod_env_to_pitch", _INT, (1, -12000, 12000)),
    8: ("initial_filter_fc", _INT, (1, 1500, 13500)),
    9: ("initial_filter_q", _INT, (1, 0, 960)),
    10: ("mod_lfo_to_filter_fc", _INT, (1, -12000, 12000)),
    11: ("mod_env_to_filter_fc", _INT, (1, -12000, 12000)),
    12: ("end", _ADD15, None),
    13: ("mod_lfo_to_volume", _INT, (1, -960, 960)),
    17: ("pan", _FLOAT, (0.001, -0.5, 0.5)),
    21: ("delay_mod_lfo", _FLOAT, (1, -12000, 5000)),
    22: ("freq_mod_lfo", _INT, (1, -16000, 4500)),
    23: ("delay_vib_lfo", _FLOAT, (1, -12000, 5000)),
    24: ("freq_vib_lfo", _INT, (1, -16000, 4500)),
    25: ("mod_delay", _FLOAT, (1, -12000, 5000)),
    26: ("mod_attack", _FLOAT, (1, -12000, 8000)),
    27: ("mod_hold", _FLOAT, (1, -12000, 5000)),
    28: ("mod_decay", _FLOAT, (1, -12000, 8000)),
    29: ("mod_sustain", _FLOAT, (1, 0, 1000)),
    30: ("mod_release", _FLOAT, (1, -12000, 8000)),
    31: ("mod_keynum_to_hold", _FLOAT, (1, -1200, 1200)),
    32: ("mod_keynum_to_decay", _FLOAT, (1, -1200, 1200)),
    33: ("amp_delay", _FLOAT, (1, -12000, 5000)),
    34: ("amp_attack", _FLOAT, (1, -12000, 8000)),
    35: ("amp_hold", _FLOAT, (1, -12000, 5000)),
    36: ("amp_decay", _FLOAT, (1, -12000, 8000)),
    37: ("amp_sustain", _FLOAT, (1, 0, 1440)),
    38: ("amp_release", _FLOAT, (1, -12000, 8000)),
    39: ("amp_keynum_to_hold", _FLOAT, (1, -1200, 1200)),
    40: ("amp_keynum_to_decay", _FLOAT, (1, -1200, 1200)),
    45: ("loop_start", _ADD15, None),
    # TinySoundFont 0.3.7 reads initialAttenuation as 0.1 dB per unit (the SF2 centibel)
    48: ("attenuation", _FLOAT, (0.1, 0, 144)),
    50: ("loop_end", _ADD15, None),
    51: ("transpose", _INT, None),
    52: ("tune", _INT, None),
    54: ("loop_mode", "loopmode", None),
    56: ("pitch_keytrack", _INT, None),
    57: ("group", "word", None),
    58: ("pitch_keycenter", "short", None),
}


class SoundFontError(ValueError):
    """The SoundFont file cannot be played: missing, not SF2, or without samples or presets."""


@dataclass
class Region:
    """One playable zone: a sample, the keys and velocities it answers, and how it is shaped."""

    lokey: int = 0
    hikey: int = 127
    lovel: int = 0
    hivel: int = 127
    loop_mode: int = LOOP_NONE
    sample_rate: int = 0
    group: int = 0
    offset: int = 0
    end: int = 0
    loop_start: int = 0
    loop_end: int = 0
    transpose: int = 0
    tune: int = 0
    pitch_keycenter: int = 60
    pitch_keytrack: int = 0
    attenuation: float = 0.0
    pan: float = 0.0
    amp_delay: float = 0.0
    amp_attack: float = 0.0
    amp_hold: float = 0.0
    amp_decay: float = 0.0
    amp_sustain: float = 0.0
    amp_release: float = 0.0
    amp_keynum_to_hold: float = 0.0
    amp_keynum_to_decay: float = 0.0
    mod_delay: float = 0.0
    mod_attack: float = 0.0
    mod_hold: float = 0.0
    mod_decay: float = 0.0
    mod_sustain: float = 0.0
    mod_release: float = 0.0
    mod_keynum_to_hold: float = 0.0
    mod_keynum_to_decay: float = 0.0
    initial_filter_q: int = 0
    initial_filter_fc: int = 0
    mod_env_to_pitch: int = 0
    mod_env_to_filter_fc: int = 0
    mod_lfo_to_filter_fc: int = 0
    mod_lfo_to_volume: int = 0
    delay_mod_lfo: float = 0.0
    freq_mod_lfo: int = 0
    mod_lfo_to_pitch: int = 0
    delay_vib_lfo: float = 0.0
    freq_vib_lfo: int = 0
    vib_lfo_to_pitch: int = 0

    @classmethod
    def instrument_default(cls) -> Region:
        """An instrument zone before its generators: SF2 defaults (times of -12000 timecents = 0 s)."""
        r = cls(pitch_keytrack=100, pitch_keycenter=-1, initial_filter_fc=13500)
        for env in ("amp", "mod"):
            for name in ("delay", "attack", "hold", "decay", "release"):
                setattr(r, f"{env}_{name}", -12000.0)
        r.delay_mod_lfo = r.delay_vib_lfo = -12000.0
        return r


@dataclass
class Preset:
    name: str
    bank: int
    number: int
    regions: list[Region] = field(default_factory=list)


@dataclass
class SoundFont:
    """All presets, by (bank, program), and every sample as one float32 array (TinySoundFont's layout)."""

    presets: dict[tuple[int, int], Preset]
    samples: np.ndarray

    def preset(self, program: int, drum: bool) -> Preset:
        """The preset a General MIDI channel plays, with TinySoundFont's fall-backs for missing ones."""
        candidates = [(128, program), (128, 0), (0, program)] if drum else [(0, program)]
        for key in candidates:
            if key in self.presets:
                return self.presets[key]
        raise KeyError(f"the SoundFont has no preset for program {program} (drum={drum})")


def _short(word: int) -> int:
    return word - 0x10000 if word >= 0x8000 else word


def _apply(region: Region, oper: int, word: int) -> None:
    """One generator read into a zone (TinySoundFont's tsf_region_operator with an amount)."""
    meta = _GENERATORS.get(oper)
    if oper == _GEN_KEY_RANGE:
        region.lokey, region.hikey = word & 0xFF, word >> 8
    elif oper == _GEN_VEL_RANGE:
        region.lovel, region.hivel = word & 0xFF, word >> 8
    elif meta is None:
        return
    else:
        name, kind, _ = meta
        if kind in (_FLOAT, _INT, "short"):
            setattr(region, name, _short(word) if kind != _FLOAT else float(_short(word)))
        elif kind == _ADD:
            setattr(region, name, getattr(region, name) + _short(word))
        elif kind == _ADD15:
            setattr(region, name, getattr(region, name) + (_short(word) << 15))
        elif kind == "loopmode":
            mode = word & 3
            region.loop_mode = LOOP_SUSTAIN if mode == 3 else LOOP_CONTINUOUS if mode == 1 else LOOP_NONE
        elif kind == "word":
            region.group = word


def _merge(zone: Region, preset: Region) -> None:
    """Add the preset's relative values to the zone's and clamp (tsf_region_operator, merge mode)."""
    done: set[str] = set()
    for name, kind, limit in _GENERATORS.values():
        if name in done or kind not in (_FLOAT, _INT, _ADD):
            continue
        done.add(name)
        value = getattr(zone, name) + getattr(preset, name)
        if limit is not None:
            factor, low, high = limit
            value = min(high, max(low, value * factor)) if kind == _FLOAT else min(high, max(low, value))
        setattr(zone, name, value)


def _timecents_to_s(tc: float) -> float:
    return 0.0 if tc < -11950.0 else 2.0 ** (tc / 1200.0)


def _envelope_to_seconds(region: Region, env: str) -> None:
    for name in ("delay", "attack", "release"):
        setattr(region, f"{env}_{name}", _timecents_to_s(getattr(region, f"{env}_{name}")))
    # key-scaled hold/decay stay in timecents until the key is known (voice set-up)
    if not getattr(region, f"{env}_keynum_to_hold"):
        setattr(region, f"{env}_hold", _timecents_to_s(getattr(region, f"{env}_hold")))
    if not getattr(region, f"{env}_keynum_to_decay"):
        setattr(region, f"{env}_decay", _timecents_to_s(getattr(region, f"{env}_decay")))
    sustain = getattr(region, f"{env}_sustain")
    if sustain < 0:
        sustain = 0.0
    elif env == "amp":  # centibels of attenuation -> gain
        db = -sustain / 10.0
        sustain = 10 ** (db / 20) if db > -100 else 0.0
    else:  # per mille of decrease -> level
        sustain = 1.0 - sustain / 1000.0
    setattr(region, f"{env}_sustain", sustain)


def _build_presets(pdta: dict[str, list], sample_count: int) -> dict[tuple[int, int], Preset]:
    phdrs, pbags, pgens = pdta["Phdr"], pdta["Pbag"], pdta["Pgen"]
    insts, ibags, igens, shdrs = pdta["Inst"], pdta["Ibag"], pdta["Igen"], pdta["Shdr"]
    presets: dict[tuple[int, int], Preset] = {}
    for p_index in range(len(phdrs) - 1):
        phdr = phdrs[p_index]
        name = phdr.name.split(b"\0", 1)[0].decode("latin-1")
        preset = Preset(name=name, bank=phdr.bank, number=phdr.preset)
        global_region = Region()
        first_bag, last_bag = phdr.bag, phdrs[p_index + 1].bag
        for b_index in range(first_bag, last_bag):
            preset_region = copy.copy(global_region)
            had_instrument = False
            for gen in pgens[pbags[b_index].gen : pbags[b_index + 1].gen]:
                if gen.oper != _GEN_INSTRUMENT:
                    _apply(preset_region, gen.oper, gen.amount)
                    continue
                if gen.amount >= len(insts) - 1:
                    continue
                had_instrument = True
                inst_region = Region.instrument_default()
                inst = insts[gen.amount]
                i_first, i_last = inst.bag, insts[gen.amount + 1].bag
                for ib_index in range(i_first, i_last):
                    zone = copy.copy(inst_region)
                    had_sample = False
                    for igen in igens[ibags[ib_index].gen : ibags[ib_index + 1].gen]:
                        if igen.oper != _GEN_SAMPLE_ID:
                            _apply(zone, igen.oper, igen.amount)
                            continue
                        region = _sample_region(zone, preset_region, shdrs[igen.amount], sample_count)
                        if region is not None:
                            preset.regions.append(region)
                            had_sample = True
                    if ib_index == i_first and not had_sample:
                        inst_region = zone  # the instrument's global zone
            if b_index == first_bag and not had_instrument:
                global_region = preset_region  # the preset's global zone
        presets.setdefault((preset.bank, preset.number), preset)
    return presets


def _sample_region(zone: Region, preset_region: Region, shdr: object, sample_count: int) -> Region | None:
    """The zone that plays ``shdr``, limited to the preset zone's key/velocity ranges, or None."""
    if zone.hikey < preset_region.lokey or zone.lokey > preset_region.hikey:
        return None
    if zone.hivel < preset_region.lovel or zone.lovel > preset_region.hivel:
        return None
    r = copy.copy(zone)
    r.lokey, r.hikey = max(r.lokey, preset_region.lokey), min(r.hikey, preset_region.hikey)
    r.lovel, r.hivel = max(r.lovel, preset_region.lovel), min(r.hivel, preset_region.hivel)
    _merge(r, preset_region)
    _envelope_to_seconds(r, "amp")
    _envelope_to_seconds(r, "mod")
    r.delay_mod_lfo = _timecents_to_s(r.delay_mod_lfo)
    r.delay_vib_lfo = _timecents_to_s(r.delay_vib_lfo)
    r.offset += shdr.start  # type: ignore[attr-defined]
    r.end += shdr.end  # type: ignore[attr-defined]
    r.loop_start += shdr.start_loop  # type: ignore[attr-defined]
    r.loop_end += shdr.end_loop  # type: ignore[attr-defined]
    if shdr.end_loop > 0:  # type: ignore[attr-defined]
        r.loop_end -= 1
    r.loop_end = min(r.loop_end, sample_count)
    if r.pitch_keycenter == -1:
        r.pitch_keycenter = shdr.original_pitch  # type: ignore[attr-defined]
    r.tune += shdr.pitch_correction  # type: ignore[attr-defined]
    r.sample_rate = shdr.sample_rate  # type: ignore[attr-defined]
    r.end = r.end + 1 if r.end and r.end < sample_count else sample_count
    return r


@functools.lru_cache(maxsize=2)
def load(path: str) -> SoundFont:
    """Parse a .sf2 file once per process (TimGM6mb.sf2: ~0.1 s)."""
    with warnings.catch_warnings():  # sf2utils imports audioop (deprecated in 3.11-3.12) for wave export
        warnings.simplefilter("ignore", DeprecationWarning)
        from sf2utils.sf2parse import Sf2File  # deferred: only a render needs it

    hint = "(NEMO_SOUNDFONT names the .sf2 to play; unset it for the bundled TimGM6mb.sf2)"
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SoundFontError(f"cannot read the SoundFont {path}: {exc.strerror or exc} {hint}") from exc
    try:
        raw = Sf2File(io.BytesIO(data)).raw
        pdta, offset = raw.pdta, raw.smpl_offset
        tables = {name: pdta[name] for name in ("Phdr", "Pbag", "Pgen", "Inst", "Ibag", "Igen", "Shdr")}
    except Exception as exc:  # sf2utils raises whatever its parsing meets (KeyError, struct.error, ...)
        raise SoundFontError(f"{path} is not a readable SoundFont 2 file ({exc!r}) {hint}") from exc
    if offset is None:
        raise SoundFontError(f"{path} has no 16-bit sample data (SoundFont 3 / compressed fonts) {hint}")
    # the smpl chunk's size sits in the 4 bytes before its data
    size = int.from_bytes(data[offset - 4 : offset], "little")
    pcm = np.frombuffer(data, dtype="<i2", count=size // 2, offset=offset)
    samples = (pcm.astype(np.float32) / np.float32(32767.0)).astype(np.float32)
    presets = _build_presets(tables, len(samples))
    if not presets:
        raise SoundFontError(f"{path} has no presets {hint}")
    return SoundFont(presets=presets, samples=samples)


def cents_to_hz(cents: float) -> float:
    return 8.176 * 2.0 ** (cents / 1200.0)


def gain_to_db(gain: float) -> float:
    return -100.0 if gain <= 0.00001 else 20.0 * math.log10(gain)


__all__ = [
    "LOOP_CONTINUOUS",
    "LOOP_NONE",
    "LOOP_SUSTAIN",
    "Preset",
    "Region",
    "SoundFont",
    "SoundFontError",
    "load",
]
