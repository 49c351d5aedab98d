"""The voice's low-pass: TinySoundFont's biquad, at a fixed cut-off or moved per block by the modulators.

A moving cut-off is rounded to a grid (1/12 octave, finer near Nyquist where the biquad's gain and
resonance move fast) so a voice's blocks group into a few constant-filter runs filtered with the state
carried across, instead of one filter per block.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy import signal

from nemo_local.composer.soundfont import Region, cents_to_hz

try:  # lfilter's own kernel: a voice filters a few dozen short runs, and lfilter's checks cost 2.5 us each
    from scipy.signal._sigtools import _linear_filter as _lfilter_kernel
except ImportError:  # pragma: no cover - a SciPy that moved it: the public function does the same
    _lfilter_kernel = None


def _lfilter(b: np.ndarray, a: np.ndarray, x: np.ndarray, zi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if _lfilter_kernel is not None:
        return _lfilter_kernel(b, a, x, -1, zi)
    return signal.lfilter(b, a, x, zi=zi)


# cut-off grid (cents) for grouping blocks into constant-filter runs, by cut-off / rate: below 0.25, below
# 0.4, above (near Nyquist the biquad's gain and resonance move fast with the cut-off)
_FILTER_STEP_CENTS = (100.0, 25.0, 1.0)


def lowpass_coefficients(fc: float, q_inv: float) -> tuple[np.ndarray, np.ndarray]:
    k = math.tan(math.pi * fc)
    kk = k * k
    norm = 1.0 / (1.0 + k * q_inv + kk)
    a0 = kk * norm
    return np.array([a0, 2.0 * a0, a0]), np.array(
        [1.0, 2.0 * (kk - 1.0) * norm, (1.0 - k * q_inv + kk) * norm]
    )


def fixed_filter(region: Region, x: np.ndarray, sr: float) -> np.ndarray:
    """The region's low-pass at its initial cut-off (set once at note-on), or ``x`` if it is open."""
    fc = cents_to_hz(float(region.initial_filter_fc)) / sr if region.initial_filter_fc <= 13500 else 1.0
    if fc >= 0.499:
        return x
    b, a = lowpass_coefficients(fc, 1.0 / 10.0 ** ((region.initial_filter_q / 10.0) / 20.0))
    return _lfilter(b, a, x, np.zeros(2, dtype=b.dtype))[0].astype(np.float32, copy=False)


def modulated_filter(
    region: Region,
    x: np.ndarray,
    mod_level: np.ndarray | None,
    mod_lfo: np.ndarray | None,
    sizes: np.ndarray,
    sr: float,
) -> np.ndarray:
    q_inv = 1.0 / 10.0 ** ((region.initial_filter_q / 10.0) / 20.0)
    dynamic = bool(region.mod_lfo_to_filter_fc or region.mod_env_to_filter_fc)
    if not dynamic:
        return fixed_filter(region, x, sr)
    cents = np.full(len(sizes), float(region.initial_filter_fc))
    if mod_level is not None and region.mod_env_to_filter_fc:
        cents += mod_level * region.mod_env_to_filter_fc
    if mod_lfo is not None and region.mod_lfo_to_filter_fc:
        cents += mod_lfo * region.mod_lfo_to_filter_fc
    # bypassed blocks (cut-off at or above 13500 cents, or at Nyquist) carry the state unchanged
    fc = 8.176 * 2.0 ** (cents / 1200.0) / sr
    bypass = (cents > 13500.0) | (fc >= 0.499)
    # near Nyquist the biquad's response (and its resonance) moves fast with the cut-off: exact there
    step = np.where(
        fc < 0.25, _FILTER_STEP_CENTS[0], np.where(fc < 0.4, _FILTER_STEP_CENTS[1], _FILTER_STEP_CENTS[2])
    )
    rounded = np.round(cents / step) * step
    grid = np.where(bypass, np.inf, rounded)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    change = np.nonzero(np.concatenate(([True], grid[1:] != grid[:-1])))[0]
    if len(change) == 1 and np.isinf(grid[0]):
        return x
    out = np.empty(len(x), dtype=np.float32)
    state = np.zeros(2)
    bounds = [*starts[change].tolist(), len(x)]
    for run, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        if lo >= len(x):
            break
        hi = min(hi, len(x))
        value = grid[change[run]]
        if math.isinf(value):
            out[lo:hi] = x[lo:hi]
            continue
        b, a = lowpass_coefficients(8.176 * 2.0 ** (value / 1200.0) / sr, q_inv)
        y, state = _lfilter(b, a, x[lo:hi], state)
        out[lo:hi] = y
    return out
