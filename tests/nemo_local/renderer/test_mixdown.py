"""The numpy mix: placement, volume, fades, looping and the safety limiter."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

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
