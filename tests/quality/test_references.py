"""The gate's numpy measurements agree with the libraries they replace, on the same signals.

The check runs on PyAV and numpy alone (scipy, pyloudnorm and librosa cost a fresh task process more
than a second of imports); here each part is held to its reference: K-weighting (in FFT blocks) to
scipy's IIR filters, integrated loudness to pyloudnorm, the true-peak interpolator and its pruned search to
oversampling the whole file with scipy, the seam's maximum filter to scipy.ndimage, and tempo and key
to librosa's onset envelope and chroma on nemo_local tracks and on signals of known tempo and key.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nemo_provider.quality import filtering, loudness, music, seam
from nemo_provider.quality.decode import decode
from nemo_provider.quality.filtering import N_FFT, TAPS, BlockFilter, filter_signal
from nemo_provider.quality.measuring import _DECIMATION as MUSIC_DECIMATION

SR = 44100


@pytest.fixture(scope="module")
def tracks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    """Three nemo_local tracks of different styles, decoded (float32, stereo)."""
    from nemo_local.composer import compose

    folder = tmp_path_factory.mktemp("references")
    out = {}
    for prompt, seed in (("upbeat corporate track", 3), ("dark ambient in F# minor", 5),
                         ("energetic electronic at 128 bpm", 2)):  # fmt: skip
        track = compose(prompt, duration_s=10.0, seed=seed)
        out[prompt] = decode(track.write(folder / f"{seed}.wav")).audio
    return out


def _iir_k_weighted(x: np.ndarray, rate: int) -> np.ndarray:
    from scipy.signal import lfilter

    ref = x.astype(np.float64)
    for b, a in loudness.k_weighting(rate):
        ref = lfilter(b, a, ref, axis=0)
    return ref


@pytest.mark.parametrize("rate", [44100, 48000, 22050])
def test_k_weighting_in_fft_blocks_equals_the_iir_filters(rate: int) -> None:
    x = np.random.default_rng(rate).normal(0, 0.2, (rate * 3, 2)).astype(np.float32)
    x[: rate // 2] *= np.linspace(0, 1, rate // 2)[:, None]  # a start and an end that are not silent
    ours = filter_signal(x, rate).weighted
    ref = _iir_k_weighted(x, rate)
    assert ours.shape == x.shape
    assert np.abs(ours - ref).max() <= 1e-4 * np.abs(ref).max()


@pytest.mark.parametrize(
    "n", [1, 7, TAPS - 1, TAPS, N_FFT - TAPS, N_FFT - TAPS + 1, N_FFT + 3, 3 * N_FFT + 11]
)
def test_blocks_join_without_a_seam_at_every_length(n: int) -> None:
    """Block edges fall everywhere in the signal: the filtered signal, and the mono mix at half and a
    quarter of the rate, are what one whole-signal computation gives, to the last sample."""
    x = np.random.default_rng(n).normal(0, 0.2, (n, 2)).astype(np.float32)
    ref = _iir_k_weighted(x, SR)
    for q in (2, 4):
        filtered = filter_signal(x, SR, q)
        assert np.abs(filtered.weighted - ref).max() <= 1e-4 * max(np.abs(ref).max(), 1e-9)
        mono = filtered.mono
        assert len(mono) == math.ceil(n / q)
        delay = filtering.lowpass_delay(q)
        taps = np.fft.irfft(filtering.lowpass_response(q), n=N_FFT)[: 2 * delay + 1]
        whole = np.convolve(x.astype(np.float64).mean(axis=1), taps)[delay:][:n:q]
        assert np.abs(mono - whole).max() <= 1e-5, q


def test_decimation_outside_the_supported_set_is_refused() -> None:
    with pytest.raises(ValueError, match="power of two"):
        BlockFilter(1, SR, 3)


def test_k_weighting_coefficients_are_the_standards_at_48k() -> None:
    (b1, a1), (b2, a2) = loudness.k_weighting(48000)  # ITU-R BS.1770-4, Tables 1 and 2
    assert b1 == pytest.approx([1.53512485958697, -2.69169618940638, 1.19839281085285], abs=1e-9)
    assert a1 == pytest.approx([1.0, -1.69065929318241, 0.73248077421585], abs=1e-9)
    assert b2 == [1.0, -2.0, 1.0]
    assert a2 == pytest.approx([1.0, -1.99004745483398, 0.99007225036621], abs=1e-9)


def test_integrated_loudness_agrees_with_pyloudnorm(tracks) -> None:
    import pyloudnorm

    for name, x in tracks.items():
        ours = loudness.gated_lufs(filter_signal(x, SR).weighted, SR)
        ref = pyloudnorm.Meter(SR).integrated_loudness(x.astype(np.float64))
        # pyloudnorm designs its K filter from the cookbook shelf, a few hundredths of a dB off the
        # standard's; the gating and blocks are the same
        assert ours == pytest.approx(ref, abs=0.1), name


def test_gating_follows_pyloudnorm_exactly_on_the_same_weighted_signal() -> None:
    import pyloudnorm

    rng = np.random.default_rng(4)
    x = rng.normal(0, 1, (SR * 7, 2)) * np.repeat(rng.uniform(0.0001, 0.3, 70), SR // 10)[:, None]
    meter = pyloudnorm.Meter(SR)
    meter._filters = {}  # the gating alone, on an already weighted signal
    assert loudness.gated_lufs(x, SR) == pytest.approx(meter.integrated_loudness(x), abs=1e-9)
    assert loudness.gated_lufs(x[: SR // 5], SR) == -math.inf
    assert loudness.gated_lufs(np.zeros((SR, 2)), SR) == -math.inf


def _full_true_peak(x: np.ndarray) -> float:
    from scipy.signal import firwin, upfirdn

    taps = firwin(48, 1 / 4, window=("kaiser", 5.0)) * 4
    assert np.allclose(taps, loudness.interpolator(), atol=1e-12)
    up = float(np.abs(upfirdn(taps, x.astype(np.float64), 4, 1, axis=0)).max())
    return 20 * math.log10(max(up, float(np.abs(x).max())))


def test_pruned_true_peak_equals_oversampling_the_whole_file(tracks) -> None:
    rng = np.random.default_rng(7)
    signals = list(tracks.values())
    t = np.arange(SR * 2) / SR
    near_nyquist = 0.5 * np.sin(2 * np.pi * 11025 * t + 0.25 * np.pi)  # inter-sample peaks +3 dB
    signals.append(np.stack([near_nyquist, 0.1 * near_nyquist], axis=1).astype(np.float32))
    for _ in range(6):
        y = rng.normal(0, 0.2, (rng.integers(100, 20000), int(rng.integers(1, 3))))
        y[rng.integers(0, len(y))] = rng.choice([-0.95, 0.95])
        signals.append(y.astype(np.float32))
    for x in signals:
        assert loudness.true_peak_dbtp(x)[0] == pytest.approx(_full_true_peak(x), abs=1e-4)


def test_maximum_filter_equals_scipys() -> None:
    from scipy.ndimage import maximum_filter1d

    x = np.random.default_rng(2).normal(size=500)
    for size in (1, 2, 7, 12, 64):
        assert np.array_equal(seam.maximum_filter1d(x, size), maximum_filter1d(x, size=size))


def test_percentile_by_partition_equals_numpys() -> None:
    rng = np.random.default_rng(5)
    for n in (1, 2, 999, 100_003):
        x = np.abs(rng.normal(size=n))
        for q in (0.0, 50.0, 99.9, 100.0):
            assert seam._percentile(x, q) == pytest.approx(float(np.percentile(x, q)), rel=1e-12, abs=1e-15)


def test_mono_at_a_lower_rate_is_the_band_limited_mix() -> None:
    t = np.arange(SR * 2) / SR
    x = np.stack([np.sin(2 * np.pi * 440 * t), 0.5 * np.sin(2 * np.pi * 9000 * t)], axis=1).astype(np.float32)
    quarter = filter_signal(x, SR, 4).mono  # 11025 Hz: the 9 kHz tone is above its Nyquist and must be gone
    tq = np.arange(len(quarter)) * 4 / SR
    assert len(quarter) == math.ceil(len(x) / 4)
    middle = slice(1000, -1000)
    assert np.abs(quarter[middle] - 0.5 * np.sin(2 * np.pi * 440 * tq[middle])).max() < 1e-3
    half = filter_signal(x, SR, 2).mono  # 22050 Hz keeps it
    th = np.arange(len(half)) * 2 / SR
    want = 0.5 * np.sin(2 * np.pi * 440 * th) + 0.25 * np.sin(2 * np.pi * 9000 * th)
    assert np.abs(half[middle] - want[middle]).max() < 1e-3


@pytest.mark.parametrize("decimation", sorted({2, 4, MUSIC_DECIMATION}))
def test_tempo_and_key_agree_with_librosa_on_nemo_local_tracks(tracks, decimation: int) -> None:
    """At half and a quarter of the rate (measure() uses the first), on the mono mix librosa is given."""
    import librosa

    rate = SR // decimation
    n_fft, hop = music._scaled(2048, rate), music._scaled(256, rate)
    for name, x in tracks.items():
        mono = filter_signal(x, SR, decimation).mono
        ours_env = music.onset_envelope(mono, rate)
        ours_bpm, _ = music.tempo(ours_env, rate)
        ref_y = librosa.resample(x.mean(axis=1), orig_sr=SR, target_sr=rate)
        ref_env = librosa.onset.onset_strength(y=ref_y, sr=rate, n_fft=n_fft, hop_length=hop)
        ref_bpm, _ = _librosa_tempo(ref_env, rate)
        assert ours_bpm == pytest.approx(ref_bpm, rel=0.01), name
        n = min(len(ours_env), len(ref_env))
        assert np.corrcoef(ours_env[:n], ref_env[:n])[0, 1] >= 0.95, name
        key_fft = music._scaled(4096, rate)
        chroma = librosa.feature.chroma_stft(y=ref_y, sr=rate, n_fft=key_fft, hop_length=key_fft // 2)
        ours_key, _ = music.key(mono, rate)
        assert ours_key == _key_of(chroma.mean(axis=1)), name


@pytest.mark.parametrize("decimation", sorted({2, 4, MUSIC_DECIMATION}))
def test_chroma_filters_and_tuning_match_librosas(tracks, decimation: int) -> None:
    import librosa

    rate = SR // decimation
    n_fft = music._scaled(4096, rate)
    for tuning in (0.0, 0.02, -0.3):
        ours = music._chroma_filters(rate, n_fft, tuning)
        assert np.allclose(ours, librosa.filters.chroma(sr=rate, n_fft=n_fft, tuning=tuning), atol=1e-6)
    for x in tracks.values():
        power = music._stft_power(filter_signal(x, SR, decimation).mono, n_fft, n_fft // 2).T
        ref = librosa.estimate_tuning(S=power, sr=rate, bins_per_octave=12)
        assert music._tuning(power, rate, n_fft) == pytest.approx(ref, abs=1e-9)


@pytest.mark.parametrize(("rate", "n_fft"), [(22050, 2048), (11025, 1024)])
def test_mel_filters_match_librosas(rate: int, n_fft: int) -> None:
    import librosa

    ours = music._mel_filters(rate, n_fft, 128)
    ref = librosa.filters.mel(sr=rate, n_fft=n_fft, n_mels=128)
    assert np.allclose(ours, ref, atol=1e-6)
    # the banded product that applies them is the dense one
    power = np.random.default_rng(n_fft).random((300, n_fft // 2 + 1)).astype(np.float32)
    dense = power @ ours.T
    assert np.allclose(
        music._mel_projection(rate, n_fft, 128)(power), dense, rtol=1e-5, atol=1e-6 * dense.max()
    )


def _librosa_tempo(env: np.ndarray, sr: int) -> tuple[float | None, float]:
    """music.tempo's metric choice on librosa's own envelope (hop 256 at 22.05 kHz, as music scales it)."""
    import librosa

    centred = env - env.mean()
    assert np.allclose(music._autocorrelate(centred, 400), librosa.autocorrelate(centred, max_size=400),
                       atol=1e-5 * float(np.dot(centred, centred)))  # fmt: skip
    return music.tempo(env, sr)


def _key_of(profile: np.ndarray) -> str:
    scores = {
        (pc, mode): float(np.corrcoef(profile, np.roll(ref, pc))[0, 1])
        for pc in range(12)
        for mode, ref in (("major", music._MAJOR), ("minor", music._MINOR))
    }
    return music.key_name(*max(scores, key=lambda k: scores[k]))
