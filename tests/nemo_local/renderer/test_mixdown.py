"""The numpy mix: placement, volume, fades, looping and the safety limiter."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from nemo_local.renderer.mixdown import SAMPLE_RATE, mix_timeline, safety_limit
from nemo_local.renderer.timeline import parse_draft


def _tone(path: Path, seconds: float, amp: float = 0.5) -> Path:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    x = (amp * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(SAMPLE_RATE)
        fh.writeframes(x.tobytes())
    return path


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2)))


def test_volume_placement_fades_and_loop(tmp_path: Path) -> None:
    src = _tone(tmp_path / "a.wav", 1.0)
    draft = {
        "t": [
            {"tt": 1, "sg": [{"id": "a", "s": 1000, "d": 2500, "src": "x", "v": 0.5, "fi": 500, "fo": 500}]}
        ],
        "d": 4000,
    }
    mix = mix_timeline(parse_draft(draft), lambda _: src)
    sr = SAMPLE_RATE
    assert mix.shape == (4 * sr, 2)
    assert _rms(mix[: sr - 10]) == 0.0  # nothing before the segment starts
    assert _rms(mix[int(3.55 * sr) :]) == 0.0  # nor after it ends
    body = mix[int(1.6 * sr) : int(2.9 * sr), 0]
    assert abs(np.abs(body).max() - 0.25) < 0.01  # 0.5 amplitude at volume 0.5, looped past 1 s
    assert np.abs(mix[sr : sr + 200]).max() < 0.01  # fade-in starts from silence
    assert np.abs(mix[int(3.5 * sr) - 200 : int(3.5 * sr)]).max() < 0.01  # fade-out ends in silence


def test_loud_sum_is_limited_without_clipping(tmp_path: Path) -> None:
    src = _tone(tmp_path / "b.wav", 2.0, amp=0.9)
    track = {"tt": 1, "sg": [{"id": "a", "s": 0, "d": 2000, "src": "x", "v": 1.0}]}
    mix = mix_timeline(parse_draft({"t": [track, track, track]}), lambda _: src)
    assert np.abs(mix).max() <= 0.9
    assert _rms(mix) > 0.4


def test_safety_limit_leaves_quiet_audio_alone() -> None:
    x = (np.random.default_rng(0).standard_normal((1000, 2)) * 0.1).astype(np.float32)
    assert safety_limit(x) is x


def _reference_mix(timeline_draft: dict, src: Path) -> np.ndarray:
    """The mix computed the old way: whole sources in memory, tiled, faded, summed, limited at once."""
    from nemo_local.renderer.sources import decode_audio

    tl = parse_draft(timeline_draft)
    n = round(tl.duration * SAMPLE_RATE)
    mix = np.zeros((n, 2), dtype=np.float32)
    for seg in tl.audio:
        audio = decode_audio(src, seg.source_offset, seg.duration)
        start = round(seg.start * SAMPLE_RATE)
        length = min(round(seg.duration * SAMPLE_RATE), n - start)
        audio = np.tile(audio, (-(-length // len(audio)), 1))[:length]
        env = np.ones(length, dtype=np.float32)
        k_in, k_out = int(seg.fade_in * SAMPLE_RATE), int(seg.fade_out * SAMPLE_RATE)
        env[:k_in] = np.linspace(0.0, 1.0, k_in, dtype=np.float32)
        env[length - k_out :] *= np.linspace(1.0, 0.0, k_out, dtype=np.float32)
        mix[start : start + length] += audio * (env * np.float32(seg.volume))[:, None]
    return safety_limit(mix)


def test_block_wise_mix_equals_the_whole_mix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks much shorter than the sources, the loops and the fades: the streamed mix (limiter included)
    is the mix computed whole, so streaming changes memory, not sound."""
    from nemo_local.renderer import mixdown

    src = _tone(tmp_path / "c.wav", 0.7, amp=0.8)
    draft = {
        "t": [
            {"tt": 1, "sg": [{"id": "a", "s": 100, "d": 2300, "src": "x", "fi": 400, "fo": 600}]},
            {"tt": 1, "sg": [{"id": "b", "s": 900, "d": 1500, "src": "x", "v": 0.9, "ss": 200}]},
        ],
        "d": 2600,
    }
    whole = _reference_mix(draft, src)
    assert np.abs(whole).max() <= 0.9 and np.abs(whole).max() > 0.8  # the limiter did work here
    monkeypatch.setattr(mixdown, "BLOCK", 3001)  # not a divisor of anything: joins fall everywhere
    streamed = mix_timeline(parse_draft(draft), lambda _: src)
    assert streamed.shape == whole.shape
    assert np.abs(streamed - whole).max() < 1e-4


@pytest.mark.slow
def test_wav_of_an_hour_is_written_in_flat_memory(tmp_path: Path) -> None:
    """A one-hour WAV export streams its mix: the process stays below the 1.27 GB the mix alone would take
    as one array (measured in a child process, so this test's own memory does not count)."""
    from tests.nemo_local.peak_memory import render_peak

    _tone(tmp_path / "a.wav", 5.0)
    draft = {
        "t": [{"tt": 1, "sg": [{"id": "m", "s": 0, "d": 3600000, "src": "a.wav", "fo": 3000}]}],
        "d": 3600000,
    }
    env = {"NEMO_LOCAL_MAX_EXPORT_SECONDS": "3600"}  # over the default limit, by choice
    peak = render_peak(draft, tmp_path, fmt="wav", env=env)
    assert abs(peak.duration - 3600.0) < 0.01
    assert peak.size == 3600 * SAMPLE_RATE * 4 + 44
    # the child's own peak (VmHWM): ~120 MB. (The 468 MB once seen in the full suite was ru_maxrss,
    # which an exec'd child inherits from pytest.) The whole mix as one array would be 1.27 GB.
    assert peak.rss_mb < 400, f"max RSS {peak.rss_mb} MB"
    (tmp_path / "out.wav").unlink()  # 635 MB: not left for the rest of the run


@pytest.mark.parametrize("channels", [1, 2])
def test_plain_wav_is_read_directly_with_the_samples_pyav_decodes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, channels: int
) -> None:
    """The quick WAV reader gives exactly what PyAV's decode + resample gives, from any offset; other
    WAVs (here 48 kHz) still go through PyAV."""
    from nemo_local.renderer import sources

    rng = np.random.default_rng(3)
    src = tmp_path / "n.wav"
    with wave.open(str(src), "wb") as fh:
        fh.setnchannels(channels)
        fh.setsampwidth(2)
        fh.setframerate(SAMPLE_RATE)
        fh.writeframes(
            rng.integers(-32768, 32767, size=int(2.5 * SAMPLE_RATE) * channels, dtype="<i2").tobytes()
        )
    assert sources.plain_wav(src)
    for start in (0.0, 0.37, 1.9, 3.0):
        quick = list(sources.decoded(src, start, None))
        with monkeypatch.context() as m:
            m.setattr(sources, "plain_wav", lambda _path: False)
            slow = list(sources.decoded(src, start, None))
        a = np.concatenate(quick) if quick else np.zeros((0, 2), np.float32)
        b = np.concatenate(slow) if slow else np.zeros((0, 2), np.float32)
        assert a.shape == b.shape and a.dtype == b.dtype == np.float32
        assert np.array_equal(a, b)
    other = tmp_path / "k.wav"
    with wave.open(str(other), "wb") as fh:
        fh.setnchannels(2)
        fh.setsampwidth(2)
        fh.setframerate(48000)
        fh.writeframes(b"\0\0\0\0" * 4800)
    assert not sources.plain_wav(other)
    assert sum(len(c) for c in sources.decoded(other, 0.0, None)) == pytest.approx(
        SAMPLE_RATE / 10, abs=64
    )  # resampled (its filter's tail aside)
