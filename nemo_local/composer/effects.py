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

_UP2 = (signal.firwin(24, 0.45, window=("kaiser", 7.0)) * 2.0).astype(np.float32)
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


def reverb(x: np.ndarray, sr: int, *, wet: float, seconds: float, seed: int) -> np.ndarray:
    """Add a stereo convolution reverb; computed at half rate (the tail is dark anyway) to save time.

    The output has the input's length: callers render enough tail before calling.
    """
    if wet <= 0:
        return x
    n = len(x)
    mono = x.mean(axis=1)
    half = (mono[0 : n - (n % 2) : 2] + mono[1 : n - (n % 2) : 2]) * 0.5
    b, a = signal.butter(1, 150.0 / (sr / 4), btype="highpass")
    half = signal.lfilter(b, a, half).astype(np.float32)
    ir = _impulse_response(seconds, sr // 2, seed)
    size = sfft.next_fast_len(len(half) + len(ir), real=True)
    spectrum = sfft.rfft(half, size)
    wet_half = np.empty((len(half), 2), dtype=np.float32)
    for ch in range(2):
        wet_half[:, ch] = sfft.irfft(spectrum * sfft.rfft(ir[:, ch], size), size)[: len(half)]
    up = signal.upfirdn(_UP2, wet_half, 2, 1, axis=0)
    delay = (len(_UP2) - 1) // 2
    up = up[delay : delay + n]
    out = x.copy()
    out[: len(up)] += (wet * 1.6) * up
    return out


def tone(x: np.ndarray, sr: int, *, lowpass_hz: float, circular: bool) -> np.ndarray:
    """High-pass the rumble away and, for darker styles, roll off the top."""
    sections = [signal.butter(2, 30.0 / (sr / 2), btype="highpass", output="sos")]
    if lowpass_hz < sr / 2 * 0.9:
        sections.append(signal.butter(2, lowpass_hz / (sr / 2), output="sos"))
    sos = np.vstack(sections)
    return _circular(lambda y: signal.sosfilt(sos, y, axis=0).astype(np.float32), x, circular)


def lofi(x: np.ndarray, sr: int, *, seed: int, circular: bool) -> np.ndarray:
    """Tape wow and flutter, soft saturation, a narrow band and vinyl noise with crackle."""
    n = len(x)
    rng = np.random.default_rng([seed, 31337])
    duration = n / sr
    # whole numbers of cycles over the track so a loop's modulation meets itself at the seam
    wow_hz = max(1, round(0.55 * duration)) / duration
    flutter_hz = max(1, round(5.3 * duration)) / duration
    t = np.arange(n, dtype=np.float64) / sr
    phase = float(rng.uniform(0, 2 * np.pi))
    delay = 0.0011 * (1 + np.sin(2 * np.pi * wow_hz * t + phase)) + 0.00006 * (
        1 + np.sin(2 * np.pi * flutter_hz * t)
    )
    pos = np.arange(n) - delay * sr
    if circular:
        pos = np.mod(pos, n)
        i0 = np.floor(pos).astype(np.int64)
        frac = (pos - i0).astype(np.float32)[:, None]
        i1 = (i0 + 1) % n
    else:
        pos = np.clip(pos, 0, n - 1)
        i0 = np.floor(pos).astype(np.int64)
        frac = (pos - i0).astype(np.float32)[:, None]
        i1 = np.minimum(i0 + 1, n - 1)
    y = x[i0] * (1 - frac) + x[i1] * frac
    rms = float(np.sqrt(np.mean(y**2))) + 1e-9
    drive = 0.12 / rms  # saturate relative to the mix level, not its arbitrary absolute scale
    y = (np.tanh(y * drive) / drive).astype(np.float32)
    sos = np.vstack(
        [
            signal.butter(2, 90.0 / (sr / 2), btype="highpass", output="sos"),
            signal.butter(2, 4300.0 / (sr / 2), output="sos"),
        ]
    )
    y = _circular(lambda z: signal.sosfilt(sos, z, axis=0).astype(np.float32), y, circular)
    hiss = rng.standard_normal((n, 2)).astype(np.float32)
    hiss = signal.sosfilt(
        signal.butter(1, [300.0 / (sr / 2), 6000.0 / (sr / 2)], btype="band", output="sos"), hiss, axis=0
    )
    crackle = np.zeros((n, 2), dtype=np.float32)
    count = int(duration * 4)
    where = rng.integers(0, n, size=(count,))
    crackle[where, rng.integers(0, 2, size=(count,))] = rng.uniform(-1, 1, size=count) * rng.uniform(
        0.3, 1.0, size=count
    )
    crackle = signal.lfilter([1.0, -0.6], [1.0], crackle, axis=0)
    noise = 0.018 * rms * hiss + 0.55 * rms * crackle
    return (y + noise.astype(np.float32)).astype(np.float32)
