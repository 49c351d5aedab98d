"""TinySoundFont's volume and modulation envelopes and its triangle LFOs, a 64-sample block at a time.

The sample player (``sampler``) asks each voice's envelopes for one level per block, as
``tsf_voice_envelope_*`` and ``tsf_voice_lfo_*`` compute them, and holds it within the block.
"""

from __future__ import annotations

import math

import numpy as np

from nemo_local.composer.soundfont import Region, cents_to_hz

BLOCK = 64  # TinySoundFont's TSF_RENDER_EFFECTSAMPLEBLOCK
FAST_RELEASE_S = 0.01  # TSF_FASTRELEASETIME: release time when a region's is 0, and for exclusive classes
NONE, DELAY, ATTACK, HOLD, DECAY, SUSTAIN, RELEASE, DONE = range(8)


class Envelope:
    """TinySoundFont's envelope state machine (tsf_voice_envelope_*), advanced a block at a time."""

    def __init__(self, region: Region, prefix: str, key: int, velocity: int, is_amp: bool, sr: float):
        p = {
            name: getattr(region, f"{prefix}_{name}")
            for name in ("delay", "attack", "hold", "decay", "sustain", "release")
        }
        to_hold, to_decay = (
            getattr(region, f"{prefix}_keynum_to_hold"),
            getattr(region, f"{prefix}_keynum_to_decay"),
        )
        if to_hold:
            tc = p["hold"] + to_hold * (60.0 - key)
            p["hold"] = 0.0 if tc < -10000.0 else 2.0 ** (tc / 1200.0)
        if to_decay:
            tc = p["decay"] + to_decay * (60.0 - key)
            p["decay"] = 0.0 if tc < -10000.0 else 2.0 ** (tc / 1200.0)
        self.p = p
        self.velocity = velocity
        self.is_amp = is_amp
        self.sr = sr
        self.segment, self.level, self.slope, self.until, self.exponential = NONE, 0.0, 0.0, 0, False
        self.next_segment(NONE)

    def next_segment(self, active: int) -> None:  # one branch per segment, as in TinySoundFont
        p, sr = self.p, self.sr
        if active == NONE:
            self.until = int(p["delay"] * sr)
            if self.until > 0:
                self.segment, self.exponential, self.level, self.slope = DELAY, False, 0.0, 0.0
                return
            active = DELAY
        if active == DELAY:
            self.until = int(p["attack"] * sr)
            if self.until > 0:
                if not self.is_amp:  # the modulation attack shortens with velocity
                    self.until = int(p["attack"] * ((145 - self.velocity) / 144.0) * sr)
                self.segment, self.exponential, self.level = ATTACK, False, 0.0
                self.slope = 1.0 / self.until if self.until > 0 else 0.0
                return
            active = ATTACK
        if active == ATTACK:
            self.until = int(p["hold"] * sr)
            if self.until > 0:
                self.segment, self.exponential, self.level, self.slope = HOLD, False, 1.0, 0.0
                return
            active = HOLD
        if active == HOLD:
            self.until = int(p["decay"] * sr)
            if self.until > 0:
                self.segment, self.level = DECAY, 1.0
                if self.is_amp:
                    mystery = -9.226 / self.until
                    self.slope, self.exponential = math.exp(mystery), True
                    if p["sustain"] > 0.0:
                        self.until = int(math.log(p["sustain"]) / mystery)
                else:
                    self.slope = -1.0 / self.until
                    self.until = int(p["decay"] * (1.0 - p["sustain"]) * sr)
                    self.exponential = False
                return
            active = DECAY
        if active == DECAY:
            self.segment, self.level, self.slope, self.until = SUSTAIN, p["sustain"], 0.0, 0x7FFFFFFF
            self.exponential = False
            return
        if active == SUSTAIN:
            self.segment = RELEASE
            self.until = int((p["release"] if p["release"] > 0 else FAST_RELEASE_S) * sr)
            if self.is_amp:
                self.slope, self.exponential = math.exp(-9.226 / max(1, self.until)), True
            else:
                self.slope, self.exponential = -self.level / max(1, self.until), False
            return
        self.segment, self.exponential, self.level, self.slope, self.until = DONE, False, 0.0, 0.0, 0x7FFFFFF

    def blocks(self, count: int, size: int = BLOCK) -> np.ndarray:
        """Levels at the start of ``count`` blocks of ``size`` samples, advancing the state past them."""
        out = np.empty(count, dtype=np.float64)
        done = 0
        while done < count:
            if self.segment in (SUSTAIN, DONE) or self.slope == 0.0:
                n = (
                    count - done
                    if self.segment in (SUSTAIN, DONE)
                    else min(count - done, -(-self.until // size))
                )
                out[done : done + n] = self.level
            else:
                n = min(count - done, max(1, -(-self.until // size)))
                k = np.arange(n, dtype=np.float64)
                if self.exponential:
                    out[done : done + n] = self.level * self.slope ** (k * size)
                    self.level *= self.slope ** (n * size)
                else:
                    out[done : done + n] = self.level + self.slope * size * k
                    self.level += self.slope * size * n
            done += n
            if self.segment not in (SUSTAIN, DONE):
                self.until -= n * size
                if self.until <= 0:
                    self.next_segment(self.segment)
        return out

    def partial(self, samples: int) -> float:
        """The level at the start of a short block (a note-off inside a block), advancing past it."""
        level = self.level
        if self.slope:
            self.level = (
                self.level * self.slope**samples if self.exponential else self.level + self.slope * samples
            )
        if self.segment not in (SUSTAIN, DONE):
            self.until -= samples
            if self.until <= 0:
                self.next_segment(self.segment)
        return level

    def release(self, seconds: float | None = None) -> None:
        """Note-off (or, with ``seconds=0``, an exclusive-class cut): start the release from here."""
        if seconds is not None:
            self.p = {**self.p, "release": seconds}
        self.next_segment(SUSTAIN)


def lfo_levels(delay_s: float, freq_cents: int, sr: float, count: int) -> np.ndarray:
    """TinySoundFont's triangle LFO (tsf_voice_lfo_*): the level at the start of each block."""
    delta = 4.0 * cents_to_hz(float(freq_cents)) / sr
    wait = int(delay_s * sr)
    start = 0 if wait <= BLOCK else -(-(wait - BLOCK) // BLOCK)  # the block that first moves the level
    k = np.arange(count, dtype=np.float64) - start  # blocks processed before block k, past the delay
    x = np.maximum(k, 0.0) * delta * BLOCK
    phase = np.mod(x + 1.0, 4.0) - 1.0  # triangle through 0 rising, peaks at +-1
    return np.where(phase <= 1.0, phase, 2.0 - phase)
