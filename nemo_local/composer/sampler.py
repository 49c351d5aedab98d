"""A SoundFont sample player on numpy that plays notes the way TinySoundFont 0.3.7 does.

The engine used to drive TinySoundFont (a C library whose Python wheel declares PyAudio, which needs
PortAudio headers to install). This player keeps its sound by doing what its ``tsf_voice_render`` does,
one voice at a time but vectorized over the voice's samples:

- every matching region of the preset plays (layers, stereo pairs), pitched by linear interpolation of
  the sample, looping where the region loops (a sustain loop stops looping at the note-off);
- the volume and modulation envelopes (delay, attack, hold, decay, sustain, release; TinySoundFont's
  exponential decay/release for volume, linear for modulation) and the two LFOs are evaluated per block
  of 64 output samples, as TinySoundFont does, and held within a block;
- the low-pass filter is TinySoundFont's biquad, its cut-off moved by the modulation envelope and LFO
  (``voice_filter``: the cut-off rounded to a grid so a voice's blocks group into a few constant-filter
  runs); the envelopes and LFOs are ``envelope``'s;
- gain: global gain, the region's attenuation, velocity (linear amplitude), channel volume; pan: the
  region's pan plus the channel's, with TinySoundFont's square-root pan law;
- an exclusive class (hi-hats) ends the earlier voice of the same class quickly (10 ms), as there.

Not modelled: the voice limit (TinySoundFont steals the voice furthest into its release past 160
voices; one part here never holds that many), SoundFont modulators (TinySoundFont ignores them too).
The block grid starts at each voice's note-on and note-off, where TinySoundFont's also restarts at every
other event of the render call; that moves a block edge by < 64 samples (1.5 ms at 44.1 kHz).

A voice whose pitch is not modulated plays the same source signal every time its key is struck, so that
signal is computed once per (region, key) and reused; only envelopes, filter and gain are per voice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from nemo_local.composer.envelope import BLOCK, DONE, RELEASE, Envelope, lfo_levels
from nemo_local.composer.soundfont import LOOP_NONE, LOOP_SUSTAIN, Region, SoundFont, gain_to_db
from nemo_local.composer.voice_filter import fixed_filter, modulated_filter

_TAIL_FLOOR = 10 ** (-60 / 20)  # a voice is cut once its envelope is this far below its peak


@dataclass(frozen=True)
class Note:
    """One note of a channel: start/end in output samples, MIDI key and velocity (1..127)."""

    start: int
    end: int
    key: int
    velocity: int


@dataclass(frozen=True)
class Channel:
    """What a channel plays: a preset, a volume (0..1 gain) and a pan (0 = left, 0.5 = centre, 1 = right)."""

    program: int
    drum: bool
    volume: float
    pan: float


class Player:
    """Plays notes of General MIDI channels from one SoundFont at one output rate."""

    def __init__(self, font: SoundFont, sample_rate: int, gain_db: float):
        self.font = font
        self.sr = float(sample_rate)
        self.gain_db = gain_db
        self._sources: dict[tuple[int, int], np.ndarray] = {}

    # -- sources ---------------------------------------------------------------------------------
    def _pitch(self, region: Region, key: int) -> tuple[float, float]:
        """(input pitch in cents, output factor) as tsf_voice_calcpitchratio computes them."""
        note = key + region.transpose + region.tune / 100.0
        adjusted = region.pitch_keycenter + (note - region.pitch_keycenter) * (region.pitch_keytrack / 100.0)
        factor = region.sample_rate / (2.0 ** (region.pitch_keycenter * 100.0 / 1200.0) * self.sr)
        return adjusted * 100.0, factor

    def _read(self, region: Region, positions: np.ndarray, looping: bool) -> np.ndarray:
        """Linear interpolation of the font's samples at ``positions`` (already wrapped into the loop)."""
        data = self.font.samples
        idx = positions.astype(np.int64)
        frac = (positions - idx).astype(np.float32)
        nxt = idx + 1
        if looping:
            nxt[idx >= region.loop_end] = region.loop_start
        np.minimum(idx, len(data) - 1, out=idx)
        np.minimum(nxt, len(data) - 1, out=nxt)
        a = data[idx]
        return a + (data[nxt] - a) * frac

    def _wrap(self, region: Region, positions: np.ndarray) -> np.ndarray:
        """Fold positions past the loop's end back into it (positions only grow, so from the first on)."""
        span = region.loop_end - region.loop_start + 1.0
        first = int(np.searchsorted(positions, region.loop_end + 1.0))
        if first < len(positions):
            tail = positions[first:]
            tail -= region.loop_start
            np.mod(tail, span, out=tail)
            tail += region.loop_start
        return positions

    def _static_source(
        self, region: Region, key: int, ratio: float, length: int, filtered: bool
    ) -> np.ndarray:
        """The voice's interpolated sample for ``length`` outputs (cached per region and key); with
        ``filtered``, through the region's fixed low-pass filter (the same for every such voice)."""
        cache_key = (id(region), key)
        cached = self._sources.get(cache_key)
        if cached is not None and len(cached) >= length:
            return cached
        length = max(length, 2 * len(cached) if cached is not None else 0)
        looping = region.loop_mode != LOOP_NONE and region.loop_start < region.loop_end
        positions = region.offset + np.arange(length, dtype=np.float64) * ratio
        if looping:
            positions = self._wrap(region, positions)
            out = self._read(region, positions, True)
        else:
            valid = max(0, min(length, math.ceil((region.end - region.offset) / ratio)))
            out = np.zeros(length, dtype=np.float32)
            out[:valid] = self._read(region, positions[:valid], False)
        if filtered:
            out = fixed_filter(region, out, self.sr)
        self._sources[cache_key] = out
        return out

    def _dynamic_source(
        self, region: Region, ratios: np.ndarray, sizes: np.ndarray, loop_until: int | None
    ) -> tuple[np.ndarray, int]:
        """The interpolated sample when the pitch moves per block; (signal, samples before the end)."""
        steps = np.repeat(ratios, sizes)
        positions = region.offset + np.concatenate(([0.0], np.cumsum(steps[:-1])))
        looping = region.loop_mode != LOOP_NONE and region.loop_start < region.loop_end
        cut = len(positions) if not looping or loop_until is None else max(0, min(loop_until, len(positions)))
        if looping:
            unwrapped_last = positions[cut - 1] if 0 < cut < len(positions) else 0.0
            positions[:cut] = self._wrap(region, positions[:cut])
            if 0 < cut < len(positions):  # a sustain loop plays on past its end after the note-off
                positions[cut:] += positions[cut - 1] - unwrapped_last
        past_end = np.flatnonzero(positions >= region.end)
        valid = int(past_end[0]) if len(past_end) else len(positions)
        out = np.zeros(len(positions), dtype=np.float32)
        head = min(cut, valid)
        out[:head] = self._read(region, positions[:head], looping)
        if head < valid:
            out[head:valid] = self._read(region, positions[head:valid], False)
        return out, valid

    # -- voices ----------------------------------------------------------------------------------
    def render(self, channels: Iterable[tuple[Channel, list[Note]]], total_samples: int) -> np.ndarray:
        """Mix the notes of ``channels`` into ``total_samples`` stereo frames, shape (n, 2), float32."""
        mono: dict[tuple[float, float], np.ndarray] = {}
        for channel, notes in channels:
            preset = self.font.preset(channel.program, channel.drum)
            gain_db = self.gain_db + gain_to_db(channel.volume)
            pan_offset = channel.pan - 0.5
            voices = self._voices(preset.regions, notes)
            for region, note, cuts in voices:
                pan = region.pan + pan_offset
                left, right = (
                    (1.0, 0.0)
                    if pan <= -0.5
                    else (0.0, 1.0)
                    if pan >= 0.5
                    else (
                        math.sqrt(0.5 - pan),
                        math.sqrt(0.5 + pan),
                    )
                )
                y = self._voice(region, note, cuts, gain_db, total_samples)
                if y is None:
                    continue
                buf = mono.get((left, right))
                if buf is None:
                    buf = mono[(left, right)] = np.zeros(total_samples, dtype=np.float32)
                end = min(total_samples, note.start + len(y))
                buf[note.start : end] += y[: end - note.start]
        out = np.zeros((total_samples, 2), dtype=np.float32)
        for (left, right), buf in mono.items():
            if left:
                out[:, 0] += buf * np.float32(left)
            if right:
                out[:, 1] += buf * np.float32(right)
        return out

    def _voices(
        self, regions: list[Region], notes: list[Note]
    ) -> list[tuple[Region, Note, list[tuple[int, float | None]]]]:
        """Every (region, note) voice with its cuts: (sample, release seconds or None for the region's)."""
        voices: list[tuple[Region, Note, list[tuple[int, float | None]]]] = []
        last_in_group: dict[int, list[int]] = {}
        for note in sorted(notes, key=lambda n: (n.start, n.key)):
            midi_velocity = int(np.float32(note.velocity / 127.0) * np.float32(127))
            for region in regions:
                if not (
                    region.lokey <= note.key <= region.hikey and region.lovel <= midi_velocity <= region.hivel
                ):
                    continue
                if region.group:  # exclusive class: earlier voices of the class end quickly now
                    for index in last_in_group.get(region.group, []):
                        voices[index][2].append((note.start, 0.0))
                    last_in_group[region.group] = []
                voices.append((region, note, [(note.end, None)]))
                if region.group:
                    last_in_group[region.group].append(len(voices) - 1)
        return voices

    def _voice(
        self,
        region: Region,
        note: Note,
        cuts: list[tuple[int, float | None]],
        gain_db: float,
        total_samples: int,
    ) -> np.ndarray | None:
        sr = self.sr
        midi_velocity = int(np.float32(note.velocity / 127.0) * np.float32(127))
        amp = Envelope(region, "amp", note.key, midi_velocity, True, sr)
        uses_mod_env = bool(region.mod_env_to_pitch or region.mod_env_to_filter_fc)
        mod = Envelope(region, "mod", note.key, midi_velocity, False, sr) if uses_mod_env else None
        limit = total_samples - note.start
        if limit <= 0:
            return None

        # block grid: 64-sample blocks from the note-on, a short block before each cut, then 64 again
        levels: list[np.ndarray] = []
        mod_levels: list[np.ndarray] = []
        sizes: list[np.ndarray] = []
        position = 0
        cut_samples = sorted((max(0, s - note.start), r) for s, r in cuts)
        note_off = cut_samples[0][0]
        for at, release in cut_samples:
            at = min(at, limit)
            span = at - position
            if span > 0 and amp.segment != DONE:
                full, rest = divmod(span, BLOCK)
                levels.append(amp.blocks(full))
                sizes.append(np.full(full, BLOCK, dtype=np.int64))
                if mod is not None:
                    mod_levels.append(mod.blocks(full))
                if rest:
                    levels.append(np.array([amp.partial(rest)]))
                    sizes.append(np.array([rest], dtype=np.int64))
                    if mod is not None:
                        mod_levels.append(np.array([mod.partial(rest)]))
                position = at
            if at >= limit or amp.segment == DONE:
                break
            # a note-off releases a voice not yet releasing; an exclusive-class cut always does
            if release == 0.0 or amp.segment < RELEASE:
                amp.release(release)
                if mod is not None:
                    mod.release(release)
        if position < limit and amp.segment != DONE:
            # the release (or what is left of a segment that ends the voice): until the envelope is done
            count = max(0, -(-amp.until // BLOCK)) if amp.segment == RELEASE else 0
            count = min(count, -(-(limit - position) // BLOCK))
            if count:
                levels.append(amp.blocks(count))
                sizes.append(np.full(count, BLOCK, dtype=np.int64))
                if mod is not None:
                    mod_levels.append(mod.blocks(count))
        if not levels:
            return None
        level = np.concatenate(levels)
        size = np.concatenate(sizes)
        # a voice ends when its envelope is done or has fallen 60 dB below its peak: the last third of an
        # exponential release (TinySoundFont plays it down to -80 dB) is inaudible and costs the most
        audible = np.flatnonzero(level > level.max() * _TAIL_FLOOR)
        if not len(audible):
            return None
        keep = int(audible[-1]) + 1
        level, size = level[:keep], size[:keep]
        ends = np.cumsum(size)
        if ends[-1] > limit:
            size[-1] -= ends[-1] - limit
            ends[-1] = limit
        length = int(ends[-1])
        count = len(level)
        mod_level = np.concatenate(mod_levels)[:count] if mod is not None else None

        # LFOs (only where they drive something, as TinySoundFont updates them)
        mod_lfo = vib_lfo = None
        if region.mod_lfo_to_pitch or region.mod_lfo_to_filter_fc or region.mod_lfo_to_volume:
            mod_lfo = lfo_levels(region.delay_mod_lfo, region.freq_mod_lfo, sr, count)
        if region.vib_lfo_to_pitch:
            vib_lfo = lfo_levels(region.delay_vib_lfo, region.freq_vib_lfo, sr, count)

        # source: the pitched sample
        cents, factor = self._pitch(region, note.key)
        dynamic_pitch = bool(region.mod_lfo_to_pitch or region.mod_env_to_pitch or region.vib_lfo_to_pitch)
        sustain_loop = region.loop_mode == LOOP_SUSTAIN
        if dynamic_pitch or sustain_loop:
            shift = np.zeros(count)
            if mod_lfo is not None and region.mod_lfo_to_pitch:
                shift += mod_lfo * region.mod_lfo_to_pitch
            if vib_lfo is not None:
                shift += vib_lfo * region.vib_lfo_to_pitch
            if mod_level is not None and region.mod_env_to_pitch:
                shift += mod_level * region.mod_env_to_pitch
            ratios = 2.0 ** ((cents + shift) / 1200.0) * factor
            source, valid = self._dynamic_source(region, ratios, size, note_off if sustain_loop else None)
        else:
            ratio = 2.0 ** (cents / 1200.0) * factor
            fixed_filter = not (region.mod_lfo_to_filter_fc or region.mod_env_to_filter_fc)
            source = self._static_source(region, note.key, ratio, length, fixed_filter)[:length]
            valid = length
            if region.loop_mode == LOOP_NONE or region.loop_start >= region.loop_end:
                valid = min(length, max(0, math.ceil((region.end - region.offset) / ratio)))
        if valid <= 0:
            return None

        # low-pass filter, cut-off per block, grouped into runs of equal (rounded) cut-off
        if dynamic_pitch or sustain_loop or not fixed_filter:
            filtered = modulated_filter(region, source[:valid], mod_level, mod_lfo, size, sr)
        else:
            filtered = source[:valid]  # filtered once with the cached source

        # gain per block
        base_db = gain_db - region.attenuation + gain_to_db(note.velocity / 127.0)
        note_gain: np.ndarray | float
        if region.mod_lfo_to_volume and mod_lfo is not None:
            db = base_db + mod_lfo * (region.mod_lfo_to_volume * 0.1)
            note_gain = np.where(db > -100.0, 10.0 ** (db / 20.0), 0.0)
        else:
            note_gain = 10.0 ** (base_db / 20.0) if base_db > -100.0 else 0.0
        gains = np.repeat((level * note_gain).astype(np.float32), size)[:valid]
        return np.multiply(filtered, gains, out=gains)
