"""Mastering: exact length, fades, −14 LUFS integrated, true peak under −1 dBTP.

Loudness follows ITU-R BS.1770-4 (the K-weighting coefficients are pyloudnorm's, the gating is the same,
vectorised so a minute of audio measures in tens of milliseconds). True peak is read from a 4× oversampled
signal, only around blocks whose sample peak is near the ceiling. The limiter is a look-ahead gain
computer (minimum filter then box smoothing) that provably never lets an oversampled peak through.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import signal
from scipy.ndimage import minimum_filter1d, uniform_filter1d

TARGET_LUFS = -14.0
CEILING_DBTP = -1.0
_LIMIT_DBTP = -1.25  # margin under the ceiling for the difference between estimators
_OS = 4
_OS_FIR = (signal.firwin(48, 1.0 / _OS * 0.96, window=("kaiser", 8.0)) * _OS).astype(np.float64)
_BLOCK = 256


@dataclass(frozen=True)
class MasterReport:
    """What mastering measured at the end."""

    lufs: float
    true_peak_dbtp: float
    gain_db: float
    limited: bool


@functools.lru_cache(maxsize=4)
def _k_weighting(sr: int) -> np.ndarray:
    import pyloudnorm

    meter = pyloudnorm.Meter(sr)
    rows = []
    for stage in meter._filters.values():
        b = np.asarray(stage.b, dtype=np.float64) * stage.passband_gain
        a = np.asarray(stage.a, dtype=np.float64)
        rows.append(np.concatenate([b, a]))
    return np.vstack(rows)


def integrated_loudness(x: np.ndarray, sr: int) -> float:
    """BS.1770-4 gated loudness in LUFS of a (n, channels) signal; -inf for silence."""
    y = signal.sosfilt(_k_weighting(sr), x.astype(np.float64), axis=0)
    block = int(0.4 * sr)
    step = block // 4
    n = len(y)
    if n < block:
        return -math.inf
    count = round((n / sr - 0.4) / 0.1) + 1
    csum = np.vstack([np.zeros((1, y.shape[1])), np.cumsum(y**2, axis=0)])
    starts = (np.arange(count) * step).astype(np.int64)
    ends = np.minimum(starts + block, n)
    z = (csum[ends] - csum[starts]) / block  # mean square per block and channel
    power = z.sum(axis=1)
    with np.errstate(divide="ignore"):
        loud = -0.691 + 10 * np.log10(power)
    gated = loud >= -70.0
    if not np.any(gated):
        return -math.inf
    rel = -0.691 + 10 * np.log10(power[gated].mean()) - 10.0
    keep = gated & (loud > rel)
    if not np.any(keep):
        return -math.inf
    return float(-0.691 + 10 * np.log10(power[keep].mean()))


def _oversampled_block_peaks(x: np.ndarray, blocks: np.ndarray, circular: bool) -> np.ndarray:
    """Max |4× oversampled| value of each 256-sample block in ``blocks`` (per block, over channels)."""
    pad = len(_OS_FIR) // _OS + 2
    n = len(x)
    idx = blocks[:, None] * _BLOCK + np.arange(-pad, _BLOCK + pad)[None, :]
    idx = np.mod(idx, n) if circular else np.clip(idx, 0, n - 1)
    seg = x[idx]  # (blocks, len, ch)
    up = signal.upfirdn(_OS_FIR, seg, _OS, 1, axis=1)
    delay = (len(_OS_FIR) - 1) // 2
    core = up[:, delay + pad * _OS : delay + (pad + _BLOCK) * _OS, :]
    return np.abs(core).max(axis=(1, 2))


def true_peak_envelope(x: np.ndarray, *, circular: bool, floor: float) -> np.ndarray:
    """Per-block true-peak estimate (linear); blocks whose sample peak is far below ``floor`` keep it."""
    n = len(x)
    nblocks = -(-n // _BLOCK)
    padded = np.zeros((nblocks * _BLOCK, x.shape[1]), dtype=x.dtype)
    padded[:n] = x
    sample_peak = np.abs(padded).reshape(nblocks, _BLOCK, -1).max(axis=(1, 2)).astype(np.float64)
    env = sample_peak.copy()
    candidates = np.nonzero(sample_peak > floor * 0.5)[0]  # 4x can exceed the sample peak by < 6 dB
    if len(candidates):
        env[candidates] = np.maximum(
            sample_peak[candidates], _oversampled_block_peaks(x, candidates, circular)
        )
    return env


def true_peak_dbtp(x: np.ndarray, *, circular: bool = False) -> float:
    """True peak in dBTP (4× oversampling)."""
    env = true_peak_envelope(x, circular=circular, floor=0.0)
    peak = float(env.max()) if len(env) else 0.0
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def limit(x: np.ndarray, sr: int, *, ceiling_db: float, circular: bool) -> tuple[np.ndarray, bool]:
    """Look-ahead peak limiter on true-peak blocks; returns (signal, whether any gain was reduced)."""
    thr = 10 ** (ceiling_db / 20)
    env = true_peak_envelope(x, circular=circular, floor=thr)
    need = np.minimum(1.0, thr / np.maximum(env, 1e-12))
    if need.min() >= 1.0:
        return x, False
    mode = "wrap" if circular else "nearest"
    # per-block gain: hold the minimum over neighbours, then smooth; smoothing width <= hold half-width
    held = minimum_filter1d(need, size=7, mode=mode)
    smooth = uniform_filter1d(held, size=3, mode=mode)
    smooth = np.minimum(smooth, need)
    n = len(x)
    centres = (np.arange(len(smooth)) + 0.5) * _BLOCK
    # per-sample gain never above the block gains on either side (min of neighbours before interpolation)
    lower = np.minimum(smooth, np.roll(smooth, -1) if circular else np.append(smooth[1:], smooth[-1]))
    lower = np.minimum(lower, np.roll(smooth, 1) if circular else np.insert(smooth[:-1], 0, smooth[0]))
    gain = np.interp(np.arange(n), centres, lower).astype(np.float32)
    return (x * gain[:, None]).astype(np.float32), True


def _fade_in_curve(n: int) -> np.ndarray:
    """Raised-sine ramp 0 -> 1: no corner at either end, so no click where the fade starts."""
    ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
    return (np.sin(0.5 * np.pi * ramp) ** 2).astype(np.float32)


def master(
    x: np.ndarray,
    sr: int,
    *,
    fade_in_s: float,
    fade_out_s: float,
    loop: bool,
    target_lufs: float = TARGET_LUFS,
) -> tuple[np.ndarray, MasterReport]:
    """Fades (not for loops), loudness to ``target_lufs`` and true-peak limiting, iterated to converge."""
    y = x.astype(np.float32, copy=True)
    n = len(y)
    if not loop:
        fi = min(n // 4, int(fade_in_s * sr))
        fo = min(n // 2, int(fade_out_s * sr))
        if fi > 1:
            y[:fi] *= _fade_in_curve(fi)[:, None]
        if fo > 1:
            y[n - fo :] *= _fade_in_curve(fo)[::-1, None]
    loud = integrated_loudness(y, sr)
    if not math.isfinite(loud):
        raise ValueError("the rendered audio is silent")
    total_gain = target_lufs - loud
    y *= np.float32(10 ** (total_gain / 20))
    limited = False
    for _ in range(4):
        y, did = limit(y, sr, ceiling_db=_LIMIT_DBTP, circular=loop)
        limited = limited or did
        loud = integrated_loudness(y, sr)
        miss = target_lufs - loud
        if abs(miss) <= 0.12 or not did:
            break
        y *= np.float32(10 ** (miss / 20))
        total_gain += miss
    peak = true_peak_dbtp(y, circular=loop)
    if peak > _LIMIT_DBTP + 0.05:
        y, did = limit(y, sr, ceiling_db=_LIMIT_DBTP, circular=loop)
        limited = limited or did
        loud = integrated_loudness(y, sr)
        peak = true_peak_dbtp(y, circular=loop)
    return y, MasterReport(lufs=loud, true_peak_dbtp=peak, gain_db=total_gain, limited=limited)
