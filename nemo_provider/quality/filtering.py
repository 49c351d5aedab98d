"""Overlap-save FIR filtering in short FFT blocks, shared by the loudness and the music analyses.

Each channel is cut once into overlapping blocks and transformed once; from those spectra come the
K-weighted signal (BS.1770 loudness: the two IIR biquads' impulse response, truncated where it is
below 1e-6 of its peak, so within 3e-5 of running the filters) and the band-limited mono
mix at a lower rate (a Kaiser-windowed low-pass, decimated in the frequency domain) that the seam,
tempo and key analyses need. Why blocks and not one transform of the whole file: numpy's FFT of a
minute of audio at once ran 3-4x slower per sample than batches of 16k-point blocks that stay in
cache, and a whole-file transform can only apply a brick-wall band limit, never a proper filter.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
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


class Blocks:
    """The block spectra of float32 ``x`` (n, channels) at ``rate``: one forward FFT per block and channel."""

    def __init__(self, x: np.ndarray, rate: int, map: Map = map) -> None:
        self.n, channels = x.shape
        self.rate = rate
        self.map = map  # a thread pool's map runs the channels side by side (numpy's FFT drops the GIL)
        self.blocks = max(1, math.ceil((self.n + _PAD) / _HOP))
        self.spec = np.empty((channels, self.blocks, N_FFT // 2 + 1), np.complex64)

        def transform(ch: int) -> None:
            padded = np.zeros(TAPS - 1 + self.blocks * _HOP, np.float32)
            padded[TAPS - 1 : TAPS - 1 + self.n] = x[:, ch]
            frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::_HOP][: self.blocks]
            for i in range(0, self.blocks, _BATCH):
                # in float64, a few blocks at a time: numpy's float32 rfft runs at half its float64 speed
                self.spec[ch, i : i + _BATCH] = np.fft.rfft(frames[i : i + _BATCH].astype(np.float64), axis=1)

        list(self.map(transform, range(channels)))

    def filtered(self, response: np.ndarray, map: Map | None = None) -> np.ndarray:
        """Each channel through the FIR of ``response`` (``k_response``): (n, channels), channel-major
        (each channel contiguous, as decode's samples). ``map`` (default: the constructor's) runs the
        channels."""
        out = np.empty((len(self.spec), self.n), np.float32)

        def inverse(ch: int) -> None:
            y = np.fft.irfft(self.spec[ch] * response, n=N_FFT, axis=1)[:, TAPS - 1 :]
            out[ch] = y.reshape(-1)[: self.n]

        list((map or self.map)(inverse, range(len(self.spec))))
        return out.T

    def mono(self, decimation: int) -> np.ndarray:
        """The channels' mean, low-passed and sampled at ``rate / decimation`` (delay removed); the
        blocks' two halves on the constructor's ``map`` (each block is its own)."""
        if decimation not in (1, 2, 4, 8, 16):
            raise ValueError(f"decimation must be a power of two up to 16, not {decimation}")
        size = N_FFT // decimation
        skip = (TAPS - 1) // decimation  # the overlap, at the new rate
        y = np.empty((self.blocks, size - skip), np.float32)
        response = lowpass_response(decimation)

        def rows(span: range) -> None:
            low = self.spec[0, span.start : span.stop].copy()
            for ch in range(1, len(self.spec)):
                low += self.spec[ch, span.start : span.stop]
            low *= response / (len(self.spec) * decimation)
            # y[q*m] from the full spectrum: fold the bins above the new Nyquist back (Hermitian symmetry)
            folded = np.zeros((len(span), size // 2 + 1), np.complex64)
            for k in range(decimation):
                part = low[:, k * (size // 2) : k * (size // 2) + size // 2 + 1]
                if k % 2:
                    part = np.conj(part[:, ::-1])
                folded[:, : part.shape[1]] += part
            y[span.start : span.stop] = np.fft.irfft(folded, n=size, axis=1)[:, skip:]

        half = (self.blocks + 1) // 2
        list(self.map(rows, [range(0, half), range(half, self.blocks)]))
        start = lowpass_delay(decimation) // decimation
        return np.ascontiguousarray(y.reshape(-1)[start : start + -(-self.n // decimation)])
