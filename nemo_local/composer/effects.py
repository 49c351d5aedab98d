"""Production colour after synthesis: room (reverb), tone (low-pass), and the lo-fi record character.

TinySoundFont has no effects, so this is where the dry General MIDI render becomes a produced track.
Every effect takes ``circular=True`` for loops: filters are then primed with the end of the signal and
modulations complete whole cycles, so the loop's last sample flows into its first.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import fft as sfft
from scipy import signal

_PRIME = 8192  # samples of the loop's end used to prime IIR filters in circular mode


def _circular(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, circular: bool) -> np.ndarray:
    if not circular or len(x) <= _PRIME:
        return fn(x)
    primed = np.concatenate([x[-_PRIME:], x])
    return fn(primed)[_PRIME:]


def wrap_tail(x: np.ndarray, n: int) -> np.ndarray:
    """Fold everything after sample ``n`` back onto the start: a loop's ringing notes continue into bar 1."""
    out = x[:n].copy()
    pos = n
    while pos < len(x):
        chunk = x[pos : pos + n]
        out[: len(chunk)] += chunk
        pos += n
    return out


def _impulse_response(seconds: float, sr: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 7919])
    length = max(16, int(seconds * sr))
    t = np.arange(length) / sr
    envelope = np.exp(-6.91 * t / seconds)  # -60 dB at ``seconds``
    pre = int(0.018 * sr)
    envelope[:pre] = 0.0
    noise = rng.standard_normal((length, 2))
    # damping: the tail darkens as it decays, like a real room
    b, a = signal.butter(1, min(0.95, 5000.0 / (sr / 2)))
    noise = signal.lfilter(b, a, noise, axis=0)
    ir = noise * envelope[:, None]
    ir /= np.sqrt(np.sum(ir**2, axis=0, keepdims=True)) + 1e-12
    return ir.astype(np.float32)


_REVERB_DECIMATION = 4
# 4x interpolator for the wet signal: short (4 taps per phase) because the tail is already dark
_UP4 = (signal.firwin(16, 0.22, window=("kaiser", 5.0)) * _REVERB_DECIMATION).astype(np.float32)


def reverb(x: np.ndarray, sr: int, *, wet: float, seconds: float, seed: int) -> np.ndarray:
    """Add a stereo convolution reverb. The tail is damped above 5 kHz like a real room, so it is computed
    at a quarter of the sample rate (16x fewer operations) and interpolated back.

    The output has the input's length: callers render enough tail before calling.
    """
    if wet <= 0:
        return x
    n = len(x)
    low_sr = sr // _REVERB_DECIMATION
    half_nyquist = sr / 4
    send_filter = np.vstack(
        [
            signal.butter(1, 150.0 / half_nyquist, btype="highpass", output="sos"),
            signal.butter(4, 4500.0 / half_nyquist, output="sos"),
        ]
    ).astype(np.float32)
    # average pairs first (a gentle low-pass) so the send filter runs at half rate
    half_len = n // 2
    pairs = x[: 2 * half_len].reshape(half_len, 4).mean(axis=1)
    mono = signal.sosfilt(send_filter, pairs).astype(np.float32)
    send = mono[:: _REVERB_DECIMATION // 2]
    ir = _impulse_response(seconds, low_sr, seed)
    size = sfft.next_fast_len(len(send) + len(ir), real=True)
    spectrum = sfft.rfft(send, size)
    ir_spectra = sfft.rfft(ir, size, axis=0)
    wet_low = sfft.irfft(spectrum[:, None] * ir_spectra, size, axis=0)[: len(send)].astype(np.float32)
    up = signal.upfirdn(_UP4, wet_low, _REVERB_DECIMATION, 1, axis=0)
    delay = (len(_UP4) - 1) // 2
    up = up[delay : delay + n]
    out = x.copy()
    out[: len(up)] += np.float32(wet * 1.6) * up
    return out


def tone(x: np.ndarray, sr: int, *, lowpass_hz: float, circular: bool) -> np.ndarray:
    """Roll off the top for calmer and darker styles (brighter ones pass through: synthesized General MIDI
    has no rumble to remove and little above 11 kHz to tame)."""
    if lowpass_hz >= 12000.0:
        return x
    sos = signal.butter(2, lowpass_hz / (sr / 2), output="sos").astype(np.float32)
    return _circular(lambda y: signal.sosfilt(sos, y, axis=0).astype(np.float32), x, circular)


def _noise_bed(sr: int, seed: int) -> np.ndarray:
    """A few seconds of band-limited stereo hiss, tiled under the track (inaudible as a repeat at -40 dB)."""
    rng = np.random.default_rng([seed, 99991])
    length = int(2.71 * sr)
    hiss = rng.standard_normal((length, 2), dtype=np.float32)
    sos = signal.butter(1, [300.0 / (sr / 2), 6000.0 / (sr / 2)], btype="band", output="sos")
    return signal.sosfilt(sos, hiss, axis=0).astype(np.float32)


def lofi(x: np.ndarray, sr: int, *, seed: int, circular: bool) -> np.ndarray:
    """Tape wow and flutter, soft saturation, a narrow band and vinyl noise with crackle."""
    n = len(x)
    rng = np.random.default_rng([seed, 31337])
    duration = n / sr
    # whole numbers of cycles over the track so a loop's modulation meets itself at the seam
    wow_hz = max(1, round(0.55 * duration)) / duration
    flutter_hz = max(1, round(5.3 * duration)) / duration
    phase = float(rng.uniform(0, 2 * np.pi))
    # the delay curve is smooth: compute it at 1/64 of the rate and interpolate
    step = 64
    coarse_t = np.arange(0, n + step, step, dtype=np.float64) / sr
    coarse = 0.0011 * (1 + np.sin(2 * np.pi * wow_hz * coarse_t + phase)) + 0.00006 * (
        1 + np.sin(2 * np.pi * flutter_hz * coarse_t)
    )
    delay = np.interp(np.arange(n, dtype=np.float64), np.arange(len(coarse)) * step, coarse * sr)
    pos = np.arange(n, dtype=np.float64) - delay
    pos = np.mod(pos, n) if circular else np.clip(pos, 0, n - 1)
    i0 = pos.astype(np.int64)
    frac = (pos - i0).astype(np.float32)[:, None]
    i1 = i0 + 1
    i1[i1 >= n] = 0 if circular else n - 1
    y = x[i0]
    y += (x[i1] - y) * frac
    rms = float(np.sqrt(np.mean(y[::7] ** 2))) + 1e-9
    drive = np.float32(0.12 / rms)  # saturate relative to the mix level, not its arbitrary absolute scale
    np.tanh(y * drive, out=y)
    y /= drive
    sos = np.vstack(
        [
            signal.butter(2, 90.0 / (sr / 2), btype="highpass", output="sos"),
            signal.butter(2, 4300.0 / (sr / 2), output="sos"),
        ]
    )
    y = _circular(lambda z: signal.sosfilt(sos, z, axis=0).astype(np.float32), y, circular)
    bed = _noise_bed(sr, seed)
    reps = -(-n // len(bed))
    y += np.tile(bed, (reps, 1))[:n] * np.float32(0.018 * rms)
    # crackle: sparse two-sample clicks
    count = int(duration * 4)
    where = rng.integers(0, max(1, n - 1), size=count)
    chan = rng.integers(0, 2, size=count)
    amp = (rng.uniform(-1, 1, size=count) * rng.uniform(0.3, 1.0, size=count) * 0.55 * rms).astype(np.float32)
    np.add.at(y, (where, chan), amp)
    np.add.at(y, (where + 1, chan), -0.6 * amp)
    return y


def sidechain(
    x: np.ndarray, sr: int, *, bpm: float, depth: float = 0.4, release_s: float = 0.16
) -> np.ndarray:
    """The "pumping" of electronic music: the melodic parts duck on every beat (where the kick is) and
    swell back. The dip is reached over 8 ms, not instantly, so sustained pads do not click; the envelope
    repeats per beat, so a loop of whole bars stays seamless."""
    beat = 60.0 / bpm
    t = (np.arange(len(x), dtype=np.float64) / sr) % beat
    attack = np.minimum(1.0, t / 0.008)
    floor = np.exp(-beat / release_s)  # the swell ends exactly at 1 when the next beat starts
    env = (1.0 - depth * attack * (np.exp(-t / release_s) - floor) / (1.0 - floor)).astype(np.float32)
    return x * env[:, None]
