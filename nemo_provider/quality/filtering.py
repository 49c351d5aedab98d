"""Overlap-save FIR filtering in short FFT blocks, shared by the loudness and the music analyses.

Each channel is cut into overlapping blocks and each block is transformed once; from its spectrum come
the K-weighted signal (BS.1770 loudness: the two IIR biquads' impulse response, truncated where it is
below 1e-6 of its peak, so within 3e-5 of running the filters) and the band-limited mono
mix at a lower rate (a Kaiser-windowed low-pass, decimated in the frequency domain) that the seam,
tempo and key analyses need. Why blocks and not one transform of the whole file: numpy's FFT of a
minute of audio at once ran 3-4x slower per sample than batches of 16k-point blocks that stay in
cache, and a whole-file transform can only apply a brick-wall band limit, never a proper filter.
Blocks also need only the samples they cover: ``BlockFilter`` filters a signal as a decoder yields it,
so on two cores the filtering runs beside the decode instead of after it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from nemo_provider.quality.loudness import k_weighting

N_FFT = 16384
#: taps kept of every filter: 46 ms at 44.1 kHz, where the K-weighting's impulse response is below
#: 1e-6 of its peak (the filtered signal is then within 3e-5 of the IIR filters', below a 16-bit file's
#: own quantisation; 4097 taps gave 1.5e-7 for 25 % more time). The block overlap (TAPS - 1) and the hop
#: are multiples of 16, so decimated blocks join sample-exactly
TAPS = 2049
_HOP = N_FFT - TAPS + 1
_BATCH = 16  # blocks transformed at once (2 MB of float64: stays in cache)
_PAD = 1024  # zeros after the signal: room for the low-pass's delay at any decimation up to 8
_LOWPASS_BETA = 8.6  # Kaiser window: ~ -90 dB stop band
_LOWPASS_EDGE = 0.94  # the low-pass's -6 dB point, as a fraction of the new Nyquist frequency


Map = Callable[[Callable[[Any], Any], Iterable[Any]], Iterable[Any]]


@lru_cache(maxsize=8)
def k_response(rate: int) -> np.ndarray:
    """The K-weighting's response at the blocks' rfft bins (complex64), from its truncated impulse response."""
    big = 1 << 15  # 0.7 s at 44.1 kHz, far longer than the response lasts: no wrap-round in it
    z1 = np.exp(-1j * np.arange(big // 2 + 1) * (2 * np.pi / big))
    z2 = z1 * z1
    h = np.ones_like(z1)
    for b, a in k_weighting(rate):
        h *= (b[0] + b[1] * z1 + b[2] * z2) / (a[0] + a[1] * z1 + a[2] * z2)
    return np.fft.rfft(np.fft.irfft(h, n=big)[:TAPS], n=N_FFT).astype(np.complex64)


@lru_cache(maxsize=8)
def lowpass_response(decimation: int) -> np.ndarray:
    """A linear-phase low-pass for ``decimation`` (flat to ~0.9 of the new Nyquist, ~-90 dB past it),
    as rfft bins (complex64); its delay of ``lowpass_delay(decimation)`` samples is removed after."""
    taps = 2 * lowpass_delay(decimation) + 1
    m = np.arange(taps) - (taps - 1) / 2
    cutoff = _LOWPASS_EDGE / decimation  # in cycles per sample * 2 (1 = the old Nyquist)
    h = cutoff * np.sinc(cutoff * m) * np.kaiser(taps, _LOWPASS_BETA)
    return np.fft.rfft(h / h.sum(), n=N_FFT).astype(np.complex64)


def lowpass_delay(decimation: int) -> int:
    """The low-pass's delay in samples: a multiple of ``decimation``, so it is removed after decimating."""
    return 64 * decimation


_DECIMATIONS = (1, 2, 4, 8, 16)


@dataclass
class Filtered:
    """A signal and what the blocks made of it, each channel-major (each channel contiguous)."""

    samples: np.ndarray  # float32 (n, channels): the signal itself
    weighted: np.ndarray  # float32 (n, channels): K-weighted (BS.1770)
    mono: np.ndarray  # float32 (ceil(n / decimation),): the channels' mean, low-passed, decimated
    rate: int
    decimation: int


class BlockFilter:
    """Overlap-save filtering of a signal that arrives in pieces, one batch of blocks at a time.

    ``extend`` appends samples, ``run`` filters every block whose samples are all in (the K-weighted
    signal and the mono mix at ``rate / decimation``, from one forward FFT per block and channel), and
    ``close`` filters the rest (the last blocks read the zeros after the signal) on ``map``. Blocks write
    disjoint rows, so ``close`` runs them side by side. ``capacity`` (samples) is a guess of the length;
    the buffers grow past it. Not thread-safe: one thread extends and runs, then one closes.
    """

    def __init__(self, channels: int, rate: int, decimation: int, capacity: int = 0) -> None:
        if decimation not in _DECIMATIONS:
            raise ValueError(f"decimation must be a power of two up to 16, not {decimation}")
        self.channels, self.rate, self.decimation = channels, rate, decimation
        self.n = 0  # samples in
        self.done = 0  # blocks filtered
        self._k = k_response(rate)
        self._low = lowpass_response(decimation) / np.float32(channels * decimation)
        self._blocks = 0
        self._buf = self._weighted = self._mono = np.empty((0, 0), np.float32)
        self._grow(max(capacity, 1))

    @staticmethod
    def blocks_for(samples: int) -> int:
        """The blocks a signal of ``samples`` needs (the last ones read the zeros after it)."""
        return max(1, math.ceil((samples + _PAD) / _HOP))

    def _grow(self, samples: int) -> None:
        """Room for ``samples`` (the blocks reading past them included), keeping what is in."""
        blocks = self.blocks_for(samples)
        if blocks <= self._blocks:
            return
        buf = np.zeros((self.channels, TAPS - 1 + blocks * _HOP), np.float32)  # TAPS - 1 zeros first
        weighted = np.empty((self.channels, blocks * _HOP), np.float32)
        mono = np.empty((blocks, _HOP // self.decimation), np.float32)
        if self._blocks:
            buf[:, : TAPS - 1 + self.n] = self._buf[:, : TAPS - 1 + self.n]
            weighted[:, : self.done * _HOP] = self._weighted[:, : self.done * _HOP]
            mono[: self.done] = self._mono[: self.done]
        self._buf, self._weighted, self._mono, self._blocks = buf, weighted, mono, blocks

    def extend(self, pieces: Sequence[np.ndarray]) -> None:
        """Append float32 (channels, k) pieces, in order."""
        k = sum(p.shape[1] for p in pieces)
        if self.n + k + _PAD > self._blocks * _HOP:
            self._grow(max(self.n + k, self._blocks * _HOP * 3 // 2))
        start = TAPS - 1 + self.n
        np.concatenate(pieces, axis=1, out=self._buf[:, start : start + k])
        self.n += k

    def samples(self) -> np.ndarray:
        """The samples in so far, float32 (channels, n) (a view: valid until the next ``extend``)."""
        return self._buf[:, TAPS - 1 : TAPS - 1 + self.n]

    def ready(self) -> int:
        """Blocks whose samples are all in (block b reads up to sample (b + 1) * hop)."""
        return min(self.n // _HOP, self._blocks)

    def run(self, stop: int | None = None) -> None:
        """Filter the blocks from ``done`` to ``stop`` (default: every ready block)."""
        stop = self.ready() if stop is None else stop
        self._filter(self.done, stop)
        self.done = max(self.done, stop)

    def close(self, map: Map = map) -> Filtered:
        """Filter the blocks left (split in two on ``map``) and return the whole signal's results."""
        total = self.blocks_for(self.n)
        self._grow(self.n)
        mid = (self.done + total + 1) // 2
        list(map(lambda span: self._filter(*span), [(self.done, mid), (mid, total)]))
        self.done = total
        q = self.decimation
        start = lowpass_delay(q) // q
        return Filtered(
            samples=self.samples().T,
            weighted=self._weighted[:, : self.n].T,
            mono=np.ascontiguousarray(self._mono[:total].reshape(-1)[start : start + -(-self.n // q)]),
            rate=self.rate,
            decimation=q,
        )

    def _filter(self, start: int, stop: int) -> None:
        """Blocks ``start`` to ``stop``, every channel in each numpy call (on two threads, each call is
        a GIL hand-off with the other thread: fewer and larger calls leave the decoder beside more)."""
        q, ch = self.decimation, self.channels
        half = N_FFT // q // 2
        skip = (TAPS - 1) // q  # the overlap, at the new rate
        row, item = self._buf.strides[0], self._buf.itemsize
        for lo in range(start, stop, _BATCH):
            hi = min(lo + _BATCH, stop)
            frames = np.lib.stride_tricks.as_strided(
                self._buf[:, lo * _HOP :], (ch, hi - lo, N_FFT), (row, _HOP * item, item), writeable=False
            )
            # in float64: numpy's float32 rfft runs at half its float64 speed
            spec = np.fft.rfft(frames.astype(np.float64), axis=2).astype(np.complex64)
            weighted = np.fft.irfft(spec * self._k, n=N_FFT, axis=2)[:, :, TAPS - 1 :]
            self._weighted[:, lo * _HOP : hi * _HOP].reshape(ch, hi - lo, _HOP)[...] = weighted
            low = spec[0] if ch == 1 else spec[0] + spec[1]
            for c in range(2, ch):
                low += spec[c]
            low *= self._low
            # y[q*m] from the full spectrum: fold the bins above the new Nyquist back (Hermitian symmetry)
            folded = low[:, : half + 1].copy() if q > 1 else low
            for k in range(1, q):
                part = low[:, k * half : k * half + half + 1]
                folded += np.conj(part[:, ::-1]) if k % 2 else part
            self._mono[lo:hi] = np.fft.irfft(folded, n=2 * half, axis=1)[:, skip:]


def filter_signal(x: np.ndarray, rate: int, decimation: int = 2, map: Map = map) -> Filtered:
    """``BlockFilter`` on a whole float32 (n, channels) signal at once."""
    f = BlockFilter(x.shape[1], rate, decimation, capacity=len(x))
    if len(x):
        f.extend([np.ascontiguousarray(x.T)])
    return f.close(map)
