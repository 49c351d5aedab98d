"""One real FFT per channel, shared by the analyses that need a filtered or resampled signal.

The spectrum of each channel (zero-padded by half a second, so nothing wraps round) gives the
K-weighted signal for BS.1770 loudness (the filters' exact frequency response applied; equal to
running the IIR filters, to float precision, because their impulse response has died out long before
the padding ends) and, by keeping only the low bins of the channels' mean, the band-limited mono mix at
half the rate that the seam and the tempo/key analyses need. One pass instead of IIR filters plus a
polyphase resampler, and no scipy import.
"""

from __future__ import annotations

import numpy as np

_PAD_S = 0.5  # the K-weighting's impulse response is below 1e-12 of its peak after ~0.15 s


def fast_length(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n with a >= 2 (pocketfft is fastest there; 4 | length for /4 rates)."""
    best = 1 << max(2, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35 * 4
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


class Spectra:
    """The channels' spectra of float32 ``x`` (n, channels) at ``rate``."""

    def __init__(self, x: np.ndarray, rate: int) -> None:
        self.n = len(x)
        self.rate = rate
        self.n_fft = fast_length(self.n + int(_PAD_S * rate))
        self.spec = np.fft.rfft(np.asarray(x, np.float32).T, n=self.n_fft, axis=1)  # (channels, bins)

    def filtered(self, response: np.ndarray) -> np.ndarray:
        """Each channel through a filter of frequency ``response`` (at the rfft bins): (n, channels)."""
        out = np.fft.irfft(self.spec * response[None, :], n=self.n_fft, axis=1)
        return np.ascontiguousarray(out[:, : self.n].T)

    def mono(self, decimation: int) -> np.ndarray:
        """The channels' mean, band-limited to the new Nyquist and sampled at ``rate / decimation``."""
        size = self.n_fft // decimation
        low = self.spec[:, : size // 2 + 1].mean(axis=0)
        low[-1] = 0  # the new Nyquist bin: neither side of it may alias
        y = np.fft.irfft(low, n=size) / decimation
        return np.asarray(y[: -(-self.n // decimation)], np.float32)
