"""The audio itself: length, loudness, true peak, determinism, style differences, loop seams.

Tracks are short (4-8 s) to keep the suite fast; measurements are independent of the engine's own
meters (pyloudnorm for loudness, scipy 4x resampling for true peak).
"""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest
from scipy import signal

from nemo_local.composer import ComposedTrack, compose, parse_prompt

SR = 44100


def _lufs(x: np.ndarray) -> float:
    return float(pyloudnorm.Meter(SR).integrated_loudness(x.astype(np.float64)))


def _true_peak_db(x: np.ndarray) -> float:
    up = signal.resample_poly(x.astype(np.float64), 4, 1, axis=0)
    return float(20 * np.log10(np.abs(up).max()))


@pytest.fixture(scope="module")
def lofi() -> ComposedTrack:
    return compose("chill lo-fi with swing", duration_s=6.0, seed=11)


@pytest.mark.parametrize(
    "prompt",
    [
        "chill lo-fi",
        "upbeat corporate",
        "epic cinematic",
        "calm ambient",
        "happy acoustic",
        "energetic electronic",
        "romantic piano",
    ],
)
def test_every_style_is_mastered(prompt: str) -> None:
    track = compose(prompt, duration_s=5.0, seed=3)
    x = track.samples
    assert x.shape == (5 * SR, 2)
    assert x.dtype == np.float32
    assert abs(_lufs(x) - (-14.0)) <= 0.5
    assert _true_peak_db(x) <= -1.0
    assert np.abs(x).max() < 1.0  # no clipping
    assert track.metadata["duration_ms"] == 5000
    # never silence: most 100 ms windows carry signal
    windows = x[: len(x) // 4410 * 4410].reshape(-1, 4410, 2)
    rms = np.sqrt((windows**2).mean(axis=(1, 2)))
    assert (rms > 1e-3).mean() > 0.8


def test_metadata_fields(lofi: ComposedTrack) -> None:
    meta = lofi.metadata
    for key in ("title", "prompt", "mood", "genre", "bpm", "key", "duration_ms", "seed", "lufs", "true_peak"):
        assert key in meta
    assert meta["seed"] == 11
    assert meta["genre"] == "lofi"
    assert abs(meta["lufs"] - _lufs(lofi.samples)) < 0.1
    assert meta["true_peak"] <= -1.0


def test_duration_is_exact_for_odd_lengths() -> None:
    track = compose("calm piano", duration_s=4.321, seed=1)
    assert abs(track.duration_s - 4.321) <= 0.010


def test_same_seed_same_samples_other_seed_other_track(lofi: ComposedTrack) -> None:
    again = compose("chill lo-fi with swing", duration_s=6.0, seed=11)
    other = compose("chill lo-fi with swing", duration_s=6.0, seed=12)
    assert np.array_equal(again.samples, lofi.samples)
    assert not np.allclose(other.samples, lofi.samples, atol=1e-3)
    corr = np.corrcoef(other.samples[:, 0], lofi.samples[:, 0])[0, 1]
    assert corr < 0.5


def _onset_rate(x: np.ndarray) -> float:
    """Onsets per second: peaks of log-spectral flux well above its median (robust to pad beating)."""
    mono = x.mean(axis=1)
    _, _, spec = signal.stft(mono, SR, nperseg=1024, noverlap=512)
    mag = np.log1p(100 * np.abs(spec) / (np.abs(spec).max() + 1e-12))
    flux = np.maximum(0.0, np.diff(mag, axis=1)).sum(axis=0)
    med = np.median(flux)
    mad = np.median(np.abs(flux - med)) + 1e-12
    peaks, _ = signal.find_peaks(flux, height=med + 5 * mad, distance=4)
    return len(peaks) / (len(mono) / SR)


def _centroid(x: np.ndarray) -> float:
    mono = x.mean(axis=1)
    spectrum = np.abs(np.fft.rfft(mono))
    freqs = np.fft.rfftfreq(len(mono), 1 / SR)
    return float((spectrum * freqs).sum() / spectrum.sum())


def test_calm_and_upbeat_differ_measurably() -> None:
    calm = compose("calm ambient", duration_s=8.0, seed=5)
    upbeat = compose("upbeat energetic corporate", duration_s=8.0, seed=5)
    calm_plan = parse_prompt("calm ambient")
    upbeat_plan = parse_prompt("upbeat energetic corporate")
    assert calm_plan.bpm < upbeat_plan.bpm
    assert calm.metadata["bpm"] < upbeat.metadata["bpm"]
    assert _onset_rate(upbeat.samples) > 2.0 * _onset_rate(calm.samples)
    assert _centroid(upbeat.samples) > 1.2 * _centroid(calm.samples)


def _audio_tempo(x: np.ndarray) -> float:
    """BPM from the audio: the strongest autocorrelation lag of the onset envelope, 50-200 BPM."""
    hop = 512
    _, _, spec = signal.stft(x.mean(axis=1), SR, nperseg=2048, noverlap=2048 - hop)
    mag = np.log1p(100 * np.abs(spec) / (np.abs(spec).max() + 1e-12))
    flux = np.maximum(0.0, np.diff(mag, axis=1)).sum(axis=0)
    flux -= flux.mean()
    ac = np.correlate(flux, flux, "full")[len(flux) - 1 :]
    frames_per_s = SR / hop
    lags = np.arange(1, len(ac))
    bpm = 60 * frames_per_s / lags
    usable = (bpm >= 50) & (bpm <= 200)
    return float(60 * frames_per_s / lags[usable][np.argmax(ac[1:][usable])])


@pytest.mark.parametrize("seed", [1, 2])
def test_calm_is_slower_than_upbeat_in_the_audio(seed: int) -> None:
    calm = compose("calm lo-fi", duration_s=8.0, seed=seed)
    upbeat = compose("upbeat corporate", duration_s=8.0, seed=seed)
    calm_bpm, upbeat_bpm = _audio_tempo(calm.samples), _audio_tempo(upbeat.samples)
    assert abs(calm_bpm - calm.metadata["bpm"]) <= 0.03 * calm.metadata["bpm"]
    assert abs(upbeat_bpm - upbeat.metadata["bpm"]) <= 0.03 * upbeat.metadata["bpm"]
    assert upbeat_bpm > 1.3 * calm_bpm


def test_loop_seam_is_continuous() -> None:
    track = compose("chill lo-fi loop", duration_s=6.0, seed=4)
    assert track.metadata["loop"] is True
    x = track.samples
    seam = np.abs(x[0] - x[-1]).max()
    steps = np.abs(np.diff(x, axis=0)).max(axis=1)
    # the jump from the last sample to the first is no bigger than ordinary sample-to-sample motion
    assert seam <= np.percentile(steps, 99.5)
    # and the level does not dip or jump across the seam (no fade, no gap)
    edge = 2205
    head = np.sqrt((x[:edge] ** 2).mean())
    tail = np.sqrt((x[-edge:] ** 2).mean())
    body = np.sqrt((x**2).mean())
    assert head > 0.3 * body and tail > 0.3 * body


def test_non_loop_fades_in_and_out(lofi: ComposedTrack) -> None:
    x = lofi.samples
    assert np.abs(x[:32]).max() < 0.05
    assert np.abs(x[-32:]).max() < 0.05


def test_writes_wav_mp3_cover(tmp_path, lofi: ComposedTrack) -> None:
    import av
    from PIL import Image

    wav = lofi.write(tmp_path / "t.wav")
    mp3 = lofi.write(tmp_path / "t.mp3")
    cover = lofi.write_cover(tmp_path / "c.png")
    with av.open(str(wav)) as c:
        stream = c.streams.audio[0]
        assert stream.codec_context.sample_rate == SR and stream.codec_context.channels == 2
        frames = sum(f.samples for f in c.decode(stream))
        assert frames == len(lofi.samples)
    with av.open(str(mp3)) as c:
        assert c.streams.audio[0].codec_context.name.startswith("mp3")
    img = Image.open(cover)
    assert img.format == "PNG" and img.size == (1024, 1024)
    assert len(np.unique(np.asarray(img.convert("L")))) > 20  # a drawn picture, not a flat fill
