"""Loudness (ITU-R BS.1770 via pyloudnorm), true peak, and a loudness curve over the track."""

from __future__ import annotations

import math

import numpy as np

_BLOCK = 4096
_TAPS = 48  # BS.1770-4 Annex 2 uses a 48-tap, 4-phase interpolator
_MARGIN_DB = 3.0


def _db(value: float) -> float:
    return 20 * math.log10(value) if value > 0 else -math.inf


def integrated_lufs(x: np.ndarray, rate: int) -> float:
    """Gated integrated loudness; ``-inf`` for silence or a clip shorter than one 400 ms block."""
    import pyloudnorm

    if len(x) < int(0.4 * rate):
        return -math.inf
    return float(pyloudnorm.Meter(rate).integrated_loudness(x))


def true_peak_dbtp(x: np.ndarray) -> tuple[float, float]:
    """(true peak dBTP, sample peak dBFS): 4x oversampled with a 48-tap interpolator (BS.1770-4).

    Only blocks whose sample peak is within 3 dB of the file's are oversampled: an inter-sample peak more
    than 3 dB above its neighbouring samples needs a full-scale tone near Nyquist, which music does not
    hold. That cuts the cost ~15x (a 60 s stereo track: ~40 ms instead of ~0.9 s).
    """
    from scipy.signal import firwin, upfirdn

    if x.size == 0:
        return -math.inf, -math.inf
    mag = np.abs(x)
    n_blocks = math.ceil(len(x) / _BLOCK)
    padded = np.zeros((n_blocks * _BLOCK, x.shape[1]), np.float32)
    padded[: len(x)] = mag
    peaks = padded.reshape(n_blocks, _BLOCK, -1).max(axis=(1, 2))
    sample_peak = float(peaks.max())
    if sample_peak <= 0:
        return -math.inf, -math.inf
    taps = firwin(_TAPS, 1 / 4, window=("kaiser", 5.0)) * 4
    best = sample_peak
    for i in np.nonzero(peaks >= sample_peak * 10 ** (-_MARGIN_DB / 20))[0]:
        start = max(0, int(i) * _BLOCK - _TAPS)
        seg = x[start : (int(i) + 1) * _BLOCK + _TAPS]
        up = upfirdn(taps, seg, 4, 1, axis=0)
        # outputs whose filter reaches past the segment ring from the cut: keep only the fully-fed middle
        # (the file's own first and last samples are fed by the implicit zeros, as a player's would be)
        lo = 0 if start == 0 else 2 * _TAPS
        hi = len(up) if start + len(seg) >= len(x) else len(up) - 2 * _TAPS
        best = max(best, float(np.abs(up[lo:hi]).max()))
    return _db(best), _db(sample_peak)


def level_curve(x: np.ndarray, parts: int = 10) -> list[float]:
    """RMS level (dBFS) of each tenth of the track: shows a build-up or a fade at a glance."""
    out: list[float] = []
    for chunk in np.array_split(x, parts):
        power = float(np.mean(chunk.astype(np.float64) ** 2)) if chunk.size else 0.0
        out.append(10 * math.log10(power) if power > 0 else -math.inf)
    return out
