"""Tempo and key in numpy: librosa's onset strength, autocorrelation and chroma, and Temperley's profiles.

The three librosa functions used (``onset_strength``, ``autocorrelate``, ``chroma_stft``) are a few
lines of numpy each; importing librosa (with scipy, sklearn and numba's cached kernels) cost a fresh
task process ~1 s, more than the engine needs to make a one-minute track. They run on the band-limited
mono mix at half the file's rate (``filtering.BlockFilter``: 22.05/24 kHz), with frame and hop lengths
scaled to keep librosa's 22 kHz resolution; tests hold the results to librosa's on the same tracks. (Why not
essentia: AGPL-3.0, which many users of an Apache-2.0 provider cannot take on.) The tempo is chosen
metrically on the envelope's autocorrelation (the beat whose half-bar and bar periods also recur),
which tells a 96 bpm track with a 3+3+2 ostinato from a 128 bpm one where a tempogram's 120-bpm prior
does not, and then refined below one lag step.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from nemo_provider.quality.stft import BandedProjection, frame_power

PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_ALIASES = {
    "Db": "C#",
    "D#": "Eb",
    "Gb": "F#",
    "G#": "Ab",
    "A#": "Bb",
    "Cb": "B",
    "Fb": "E",
    "E#": "F",
    "B#": "C",
}

# Temperley's (Kostka-Payne corpus) key profiles: on nemo_local's tracks they named the key or its
# relative in 35 of 36 cases, Krumhansl-Kessler's in 24 (harmonics push KK towards the dominant).
_MAJOR = np.array([0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400])
_MINOR = np.array([0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330])
_MIN_BPM, _MAX_BPM = 50.0, 200.0

_HOP = 256  # at 22 kHz (librosa's default rate); scaled to the analysis rate
_MELS = 128


def parse_key(name: str | None) -> tuple[int, str] | None:
    """``"F# minor"`` / ``"Gb"`` / ``"a minor"`` -> (pitch class, mode); ``None`` if not a key."""
    if not name:
        return None
    parts = str(name).replace("♯", "#").replace("♭", "b").split()
    tonic = parts[0][:1].upper() + parts[0][1:]
    mode = "minor" if len(parts) > 1 and parts[1].lower().startswith("min") else "major"
    if tonic.endswith("m") and len(parts) == 1 and len(tonic) > 1:  # "Am"
        tonic, mode = tonic[:-1], "minor"
    tonic = _ALIASES.get(tonic, tonic)
    if tonic not in PITCH_NAMES:
        return None
    return PITCH_NAMES.index(tonic), mode


def key_name(pc: int, mode: str) -> str:
    return f"{PITCH_NAMES[pc % 12]} {mode}"


def relative_of(pc: int, mode: str) -> tuple[int, str]:
    """A major <-> F# minor: same notes, a listener may hear either."""
    return ((pc + 9) % 12, "minor") if mode == "major" else ((pc + 3) % 12, "major")


@lru_cache(maxsize=8)
def _mel_projection(sr: int, n_fft: int, n_mels: int) -> BandedProjection:
    return BandedProjection(_mel_filters(sr, n_fft, n_mels).T)


def _stft_power(y: np.ndarray, n_fft: int, hop: int, project: BandedProjection | None = None) -> np.ndarray:
    """|STFT|^2 (frames, bins) with a Hann window, frames centred (zero-padded), as librosa's stft;
    with ``project``, the power projected onto its bands (frames, k), e.g. mel bands.

    """
    y = np.pad(np.asarray(y, np.float32), n_fft // 2)
    return frame_power(np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop], _hann(n_fft), project)


@lru_cache(maxsize=8)
def _hann(n_fft: int) -> np.ndarray:
    return np.hanning(n_fft + 1)[:-1]  # periodic Hann, as scipy/librosa (float64: see stft.frame_power)


@lru_cache(maxsize=8)
def _mel_filters(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Slaney-style mel filterbank (librosa's default: htk=False, norm="slaney"), 0 Hz to Nyquist."""

    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        f = np.asarray(f, np.float64)
        lin = f / (200.0 / 3)
        return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-9) / 1000.0) / (math.log(6.4) / 27), lin)

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        return np.where(m >= 15.0, 1000.0 * np.exp((math.log(6.4) / 27) * (m - 15.0)), m * (200.0 / 3))

    fft_freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(np.array(0.0)), hz_to_mel(np.array(sr / 2)), n_mels + 2))
    ramps = mel_f[:, None] - fft_freqs[None, :]
    fdiff = np.diff(mel_f)
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    return (weights * (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]).astype(np.float32)


def onset_envelope(y: np.ndarray, sr: int) -> np.ndarray:
    """librosa's ``onset_strength`` in numpy: mean positive rise of the log-mel spectrum per frame.

    ``n_fft`` and hop are scaled to keep librosa's 22 kHz time and frequency resolution at ``sr``.
    """
    n_fft, hop = _scaled(2048, sr), _scaled(_HOP, sr)
    mel = _stft_power(y, n_fft, hop, _mel_projection(sr, n_fft, _MELS))  # (frames, mels)
    db = 10 * np.log10(np.maximum(mel, 1e-10))
    db = np.maximum(db, db.max() - 80.0) if db.size else db
    rise = np.maximum(0.0, np.diff(db, axis=0)).mean(axis=1)
    pad = 1 + n_fft // (2 * hop)
    return np.concatenate((np.zeros(pad), rise))[: len(db)].astype(np.float64)


def _scaled(size_at_22k: int, sr: int) -> int:
    """A frame or hop length at ``sr`` lasting what ``size_at_22k`` lasts at ~22 kHz (a power of two)."""
    return max(16, 1 << round(math.log2(size_at_22k * sr / 22050)))


def tempo(env: np.ndarray, sr: int) -> tuple[float | None, float]:
    """(bpm, confidence 0..1) from the onset envelope at ``sr``.

    Every tempo from 50 to 200 bpm is scored on the envelope's normalised autocorrelation at its beat,
    half-bar and bar lags (4/4: 1, 2 and 4 beats); the best is refined by parabolic interpolation at the
    bar lag (4x the resolution). The confidence is the score over its maximum (0: no recurring beat).
    """
    rate = sr / _scaled(_HOP, sr)
    if len(env) < rate * 4 or not np.any(env > 0):
        return None, 0.0
    ac = _autocorrelate(env - env.mean(), max_size=min(len(env) - 1, int(rate * 60 * 4 / _MIN_BPM) + 2))
    if ac[0] <= 0:
        return None, 0.0
    ac = ac / ac[0]
    bpms = np.arange(_MIN_BPM, _MAX_BPM, 0.25)
    lags = 60 * rate / bpms

    def at(lag: np.ndarray) -> np.ndarray:
        idx = np.rint(lag).astype(int)
        return np.where(idx < len(ac), ac[np.minimum(idx, len(ac) - 1)], 0.0)

    score = at(lags) + 0.5 * at(2 * lags) + 0.5 * at(4 * lags)
    i = int(np.argmax(score))
    bpm, confidence = float(bpms[i]), float(max(0.0, score[i]) / 2.0)
    for mult in (4, 2, 1):
        peak = _peak_near(ac, lags[i] * mult, width=0.5 / (lags[i] * mult) + 0.01)
        if peak is not None:
            bpm = 60 * rate * mult / peak[0]
            break
    return float(bpm), min(1.0, confidence)


def _autocorrelate(y: np.ndarray, max_size: int) -> np.ndarray:
    """librosa's ``autocorrelate``: the first ``max_size`` lags, through the power spectrum."""
    n_pad = 2 * len(y) - 1
    return np.fft.irfft(np.abs(np.fft.rfft(y, n=n_pad)) ** 2, n=n_pad)[:max_size]


def _peak_near(ac: np.ndarray, lag: float, width: float = 0.04) -> tuple[float, float] | None:
    """The autocorrelation's local maximum within ±width of ``lag``, parabolically interpolated."""
    lo, hi = math.floor(lag * (1 - width)), math.ceil(lag * (1 + width))
    if lo < 1 or hi >= len(ac) - 1:
        return None
    i = lo + int(np.argmax(ac[lo : hi + 1]))
    if not (ac[i] >= ac[i - 1] and ac[i] >= ac[i + 1]):
        return None
    a, b, c = ac[i - 1], ac[i], ac[i + 1]
    denom = a - 2 * b + c
    shift = 0.5 * (a - c) / denom if denom < 0 else 0.0
    return i + shift, float(b - 0.25 * (a - c) * shift)


def key(y: np.ndarray, sr: int) -> tuple[str | None, float]:
    """(key name, confidence): the profile best correlated with the mean chroma; the confidence is its
    lead over the best key that is neither it nor its relative (0 = a toss-up)."""
    if len(y) < sr:
        return None, 0.0
    n_fft = _scaled(4096, sr)
    power = _stft_power(y, n_fft, n_fft // 2).T  # (bins, frames)
    chroma = _chroma_filters(sr, n_fft, _tuning(power, sr, n_fft)) @ power
    peak = chroma.max(axis=0, keepdims=True)
    chroma = np.divide(chroma, peak, out=np.zeros_like(chroma), where=peak > 0)  # each frame to its max
    profile = chroma.mean(axis=1)
    if not np.any(profile > 0):
        return None, 0.0
    scores: dict[tuple[int, str], float] = {}
    for pc in range(12):
        for mode, ref in (("major", _MAJOR), ("minor", _MINOR)):
            scores[(pc, mode)] = float(np.corrcoef(profile, np.roll(ref, pc))[0, 1])
    best = max(scores, key=lambda k: scores[k])
    rel = relative_of(*best)
    rivals = [v for k, v in scores.items() if k not in (best, rel)]
    return key_name(*best), max(0.0, scores[best] - max(rivals))


def _tuning(power: np.ndarray, sr: int, n_fft: int) -> float:
    """librosa's ``estimate_tuning`` (as ``chroma_stft`` runs it): the most common deviation, in
    semitones, of the spectrum's peaks (150 Hz to 4 kHz, parabolically interpolated) from A440's grid."""
    freqs = np.arange(len(power)) * sr / n_fft
    rows_in = np.nonzero((freqs >= 150.0) & (freqs < min(4000.0, sr / 2)))[0]
    if rows_in.size == 0 or len(power) < 3:
        return 0.0
    # only the rows in range and their neighbours are read (a third of the spectrum): the frame's
    # threshold is still taken over every bin, as librosa's
    lo, hi = max(1, int(rows_in[0])), min(len(power) - 2, int(rows_in[-1]))
    s = power[lo - 1 : hi + 2]
    below, mid, above = s[:-2], s[1:-1], s[2:]
    a = above + below - 2 * mid
    b = (above - below) / 2
    safe = np.abs(b) < np.abs(a)
    shift = np.where(safe, -b / np.where(safe, a, 1), 0)
    floor = 0.1 * power.max(axis=0, keepdims=True)
    t = s * (s > floor)
    peak = (t[1:-1] > t[:-2]) & (t[1:-1] >= t[2:])
    rows, cols = np.nonzero(peak)
    pitches = (lo + rows + shift[rows, cols]) * sr / n_fft
    mags = mid[rows, cols] + 0.5 * b[rows, cols] * shift[rows, cols]  # b is np.gradient inside the range
    keep = pitches > 0
    if not keep.any():
        return 0.0
    pitches = pitches[keep & (mags >= np.median(mags[keep]))]
    residual = np.mod(12 * np.log2(pitches / (440.0 / 16)), 1.0)
    residual[residual >= 0.5] -= 1.0
    counts, edges = np.histogram(residual, np.linspace(-0.5, 0.5, 101))
    return float(edges[np.argmax(counts)])


def _chroma_filters(sr: int, n_fft: int, tuning: float = 0.0) -> np.ndarray:
    """librosa's ``filters.chroma`` (A440 shifted by ``tuning`` semitones, Gaussian bumps per pitch
    class, octave weighting centred on the 5th octave, rows from C): which bins sound which class."""
    n_chroma = 12
    freqs = np.linspace(0, sr, n_fft, endpoint=False)[1:]
    bins = n_chroma * np.log2(freqs / (440.0 * 2 ** (tuning / n_chroma) / 16))
    bins = np.concatenate(([bins[0] - 1.5 * n_chroma], bins))
    widths = np.concatenate((np.maximum(bins[1:] - bins[:-1], 1.0), [1.0]))
    d = np.subtract.outer(bins, np.arange(n_chroma, dtype=np.float64)).T
    half = round(n_chroma / 2)
    d = np.remainder(d + half + 10 * n_chroma, n_chroma) - half
    w = np.exp(-0.5 * (2 * d / widths[None, :]) ** 2)
    w /= np.maximum(np.sqrt((w**2).sum(axis=0, keepdims=True)), 1e-30)
    w *= np.exp(-0.5 * ((bins / n_chroma - 5.0) / 2.0) ** 2)[None, :]
    w = np.roll(w, -3, axis=0)
    return np.ascontiguousarray(w[:, : n_fft // 2 + 1], dtype=np.float32)
