"""Arrangement -> stereo float32 audio with a General MIDI SoundFont and the numpy sample player.

The SoundFont defaults to the TimGM6mb.sf2 shipped inside the ``pretty_midi`` wheel (so a plain
``pip install`` brings it); ``NEMO_SOUNDFONT`` may name another .sf2 (e.g. Debian's FluidR3_GM.sf2, which
sounds fuller). ``soundfont.py`` reads it, ``sampler.py`` plays the notes the way TinySoundFont (which
the engine used before; its wheel could not be installed without PortAudio headers) played them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pretty_midi
from scipy import signal

from nemo_local.composer import soundfont
from nemo_local.composer.arrange import Arrangement, Part
from nemo_local.composer.sampler import Channel, Note, Player

SAMPLE_RATE = 44100
_GAIN_DB = -8.0


def soundfont_path() -> Path:
    """The SoundFont in use: ``NEMO_SOUNDFONT`` if set, else pretty_midi's bundled TimGM6mb.sf2."""
    explicit = os.environ.get("NEMO_SOUNDFONT")
    if explicit:
        return Path(explicit)
    return Path(pretty_midi.__file__).resolve().parent / "TimGM6mb.sf2"


# The player's cost grows with voices x samples, so each part is synthesized at the lowest rate that
# keeps what its samples contain. Measured on the bundled TimGM6mb.sf2: piano, guitars, leads, vibes carry
# < 0.01 % of their energy above 11 kHz (-> half rate); pads, strings, choir and basses < 0.06 % above
# 5.5 kHz (-> quarter rate, Part.half_rate); hi-hats and shakers a third above 11 kHz (drums stay at full
# rate). With another SoundFont (NEMO_SOUNDFONT) only the sustained parts drop to half rate.
_UPSAMPLE_FIR = (signal.firwin(24, 0.45, window=("kaiser", 7.0)) * 2.0).astype(np.float32)


def sample_rate_floor(sr: int) -> int:
    """Decimation step that keeps a level measurement at or above 11.025 kHz."""
    return sr // 11025


def active_level_db(x: np.ndarray, sr: int) -> float:
    """Loudness of a part while it plays: K-weighted power of the 400 ms blocks within 25 dB of the
    loudest, so a melody that rests through the intro is judged by its phrases, not diluted by silence."""
    step = max(1, sample_rate_floor(sr))  # measure at ~11 kHz: K-weighting needs its 1.5 kHz shelf in band
    mono = x[::step, 0] + x[::step, 1]
    from nemo_local.composer.master import k_weighted_power  # deferred: master imports pyloudnorm lazily

    power = k_weighted_power(mono[:, None], sr // step)
    block = int(0.4 * sr / step)
    count = len(power) // block
    if count == 0:
        return -math.inf
    blocks = power[: count * block].reshape(count, block).mean(axis=1)
    top = float(blocks.max())
    if top <= 0:
        return -math.inf
    active = blocks[blocks >= top * 10 ** (-2.5)]
    return 10 * math.log10(float(active.mean()))


def _rate_divisor(part: Part, bundled: bool) -> int:
    """1 = full rate, 2 = half, 4 = quarter (see the module notes)."""
    if part.instrument.is_drum:
        return 1
    if part.half_rate:  # pads, bass, timpani, low ostinato: soft or low, little above 5 kHz matters
        return 4 if bundled else 2
    return 2 if bundled else 1


def render(
    arr: Arrangement,
    total_samples: int,
    sample_rate: int = SAMPLE_RATE,
    levels: Mapping[str, float] | None = None,
    melodic_fx: Callable[[np.ndarray, int], np.ndarray] | None = None,
) -> np.ndarray:
    """Synthesize ``total_samples`` frames of stereo audio, shape (n, 2), float32.

    With ``levels`` (role -> dB), each part is rendered on its own, measured, and mixed at its level
    relative to the others: General MIDI presets differ by 15 dB and more in loudness, so fixed channel
    volumes cannot balance a mix whose instruments are chosen at random.

    ``melodic_fx(audio, rate)`` (e.g. the reverb) is applied to the mix of the non-drum parts at the rate
    they were synthesized at, before they are interpolated to ``sample_rate``: with the bundled SoundFont
    that is half rate, which halves the effect's cost and saves an interpolation.
    """
    bundled = "NEMO_SOUNDFONT" not in os.environ
    font = soundfont.load(str(soundfont_path()))
    drums = [p for p in arr.parts if p.instrument.is_drum]
    others = [p for p in arr.parts if not p.instrument.is_drum]
    top = 2 if bundled else 1  # the rate divisor the non-drum mix is assembled at
    top_len = -(-total_samples // top)
    melodic = np.zeros((top_len, 2), dtype=np.float32)
    for div in sorted({_rate_divisor(p, bundled) for p in others}, reverse=True):
        parts = [p for p in others if _rate_divisor(p, bundled) == div]
        audio = _render_group(font, parts, -(-total_samples // div), sample_rate // div, levels)
        while div > top:
            div //= 2
            audio = _upsample2(audio, -(-total_samples // div))
        melodic += audio[:top_len]
    if bundled and melodic_fx is not None and others:
        melodic = melodic_fx(melodic, sample_rate // top)
    out = _render_group(font, drums, total_samples, sample_rate, levels) if drums else None
    full = _upsample2(melodic, total_samples) if top == 2 else melodic
    out = full if out is None else out + full
    if not bundled and melodic_fx is not None:
        out = melodic_fx(out, sample_rate)
    return out


def _upsample2(low: np.ndarray, total_samples: int) -> np.ndarray:
    up = signal.upfirdn(_UPSAMPLE_FIR, low, 2, 1, axis=0)
    delay = (len(_UPSAMPLE_FIR) - 1) // 2
    out = np.zeros((total_samples, 2), dtype=np.float32)
    chunk = up[delay : delay + total_samples]
    out[: len(chunk)] = chunk
    return out


def _render_group(
    font: soundfont.SoundFont,
    parts: list[Part],
    total_samples: int,
    sample_rate: int,
    levels: Mapping[str, float] | None,
) -> np.ndarray:
    player = Player(font, sample_rate, _GAIN_DB)
    if levels is None:
        return _render_parts(player, parts, total_samples, sample_rate)
    mix = np.zeros((total_samples, 2), dtype=np.float32)
    for part in parts:
        audio = _render_parts(player, [part], total_samples, sample_rate)
        measured = active_level_db(audio, sample_rate)
        if not math.isfinite(measured):
            continue
        gain = 10 ** ((levels.get(part.role, -6.0) - 20.0 - measured) / 20)
        mix += audio * np.float32(gain)
    return mix


def _render_parts(player: Player, parts: list[Part], total_samples: int, sample_rate: int) -> np.ndarray:
    channels = []
    for part in parts:
        drum = part.instrument.is_drum
        channel = Channel(
            program=0 if drum else part.instrument.program,
            drum=drum,
            volume=part.volume / 127.0,
            pan=part.pan / 127.0,
        )
        notes = [
            Note(round(n.start * sample_rate), round(n.end * sample_rate), n.pitch, n.velocity)
            for n in part.instrument.notes
            if round(n.start * sample_rate) < total_samples
        ]
        channels.append((channel, notes))
    return player.render(channels, total_samples)
