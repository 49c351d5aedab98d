"""Silence at the ends, dropouts inside, and clipped runs: all from 10 ms windows / sample runs."""

from __future__ import annotations

import numpy as np

from nemo_provider.quality.tolerances import CLIP_LEVEL, CLIP_RUN, DROPOUT_MIN_S, SILENCE_THRESHOLD_DBFS

WINDOW_S = 0.010


def window_levels_db(x: np.ndarray, rate: int) -> np.ndarray:
    """RMS level (dBFS) of consecutive 10 ms windows, channels pooled."""
    win = max(1, round(rate * WINDOW_S))
    n = len(x) // win
    if n == 0:
        return np.full(1, -np.inf)
    power = np.zeros(n)
    for ch in range(x.shape[1]):  # a channel at a time: decode's channels are each contiguous
        power += np.square(x[: n * win, ch]).reshape(n, win).sum(axis=1, dtype=np.float64)
    power /= win * x.shape[1]
    with np.errstate(divide="ignore"):
        return 10 * np.log10(power)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index pairs of the True runs in ``mask``."""
    if not mask.any():
        return []
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.nonzero(edges == 1)[0].tolist(), np.nonzero(edges == -1)[0].tolist(), strict=True))


def silence(levels_db: np.ndarray) -> tuple[float, float, list[list[float]]]:
    """(leading s, trailing s, dropouts [[start_s, end_s], ...]) from ``window_levels_db``."""
    silent = levels_db < SILENCE_THRESHOLD_DBFS
    if silent.all():
        total = len(silent) * WINDOW_S
        return total, total, []
    loud = np.nonzero(~silent)[0]
    first, last = int(loud[0]), int(loud[-1])
    min_windows = round(DROPOUT_MIN_S / WINDOW_S)
    dropouts = [
        [(first + a) * WINDOW_S, (first + b) * WINDOW_S]
        for a, b in _runs(silent[first : last + 1])
        if b - a >= min_windows
    ]
    return first * WINDOW_S, (len(silent) - 1 - last) * WINDOW_S, dropouts


def clipped_runs(x: np.ndarray) -> int:
    """Runs of at least CLIP_RUN consecutive full-scale samples in any channel (a flat-topped wave)."""
    count = 0
    for ch in range(x.shape[1]):
        hot = np.abs(x[:, ch]) >= CLIP_LEVEL
        if hot.any():
            count += sum(1 for a, b in _runs(hot) if b - a >= CLIP_RUN)
    return count
