"""Tempo and key, with librosa (onset strength, autocorrelation, chroma) and Temperley's key profiles.

Why librosa rather than essentia: librosa is ISC-licensed (essentia is AGPL-3.0, which many users of an
Apache-2.0 provider cannot take on, even as an extra), installs with plain pip from wheels, and the parts
used here avoid ``beat_track`` (~4 s more of compilation per fresh process); their numba kernels compile
once per environment into librosa's cache (warm it at image build time: docs/quality.md), after which a
check costs ~0.6 s of imports and ~0.1 s per minute of audio. Essentia's extractors are more
precise out of the box; here the tempo is chosen metrically on the envelope's autocorrelation (the
beat whose half-bar and bar periods also recur), which tells a 96 bpm track with a 3+3+2 ostinato from
a 128 bpm one where the tempogram's 120-bpm prior does not, and then refined below one lag step.
"""

from __future__ import annotations

import math

import numpy as np

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

_HOP = 256


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


def onset_envelope(y: np.ndarray, sr: int) -> np.ndarray:
    import librosa

    return np.asarray(librosa.onset.onset_strength(y=y, sr=sr, hop_length=_HOP), dtype=np.float64)


def tempo(env: np.ndarray, sr: int) -> tuple[float | None, float]:
    """(bpm, confidence 0..1) from librosa's onset envelope.

    Every tempo from 50 to 200 bpm is scored on the envelope's normalised autocorrelation at its beat,
    half-bar and bar lags (4/4: 1, 2 and 4 beats); the best is refined by parabolic interpolation at the
    bar lag (4x the resolution). The confidence is the score over its maximum (0: no recurring beat).
    """
    import librosa

    rate = sr / _HOP
    if len(env) < rate * 4 or not np.any(env > 0):
        return None, 0.0
    ac = librosa.autocorrelate(
        env - env.mean(), max_size=min(len(env) - 1, int(rate * 60 * 4 / _MIN_BPM) + 2)
    )
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
    import librosa

    if len(y) < sr:
        return None, 0.0
    chroma = librosa.feature.chroma_stft(y=y, sr=sr, n_fft=4096, hop_length=2048)
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
