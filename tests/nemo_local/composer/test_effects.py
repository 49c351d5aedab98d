"""Production effects in isolation."""

from __future__ import annotations

import numpy as np

from nemo_local.composer import effects

SR = 44100


def _sine(seconds: float, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return np.stack([np.sin(2 * np.pi * freq * t)] * 2, axis=1).astype(np.float32)


def test_sidechain_ducks_on_each_beat_without_a_step() -> None:
    ones = np.ones((2 * SR, 2), dtype=np.float32)
    out = effects.sidechain(ones, SR, bpm=120.0, depth=0.4)[:, 0]
    beat = SR // 2
    assert out[0] == 1.0  # no instant drop at the beat
    assert 0.6 <= out[: beat // 4].min() <= 0.7  # a dip of 30-40 % (the attack ramp meets the release)
    assert np.allclose(out[:beat], out[beat : 2 * beat], atol=1e-4)  # the same on every beat
    assert np.abs(np.diff(out)).max() < 0.01  # smooth: no clicks


def test_wrap_tail_folds_the_ring_onto_the_start() -> None:
    x = np.arange(10, dtype=np.float32)[:, None].repeat(2, axis=1)
    folded = effects.wrap_tail(x, 4)
    assert folded[:, 0].tolist() == [0 + 4 + 8, 1 + 5 + 9, 2 + 6, 3 + 7]


def test_reverb_adds_a_tail_and_keeps_the_length() -> None:
    x = np.zeros((2 * SR, 2), dtype=np.float32)
    x[:2000] = _sine(2000 / SR)
    out = effects.reverb(x, SR, wet=0.3, seconds=1.5, seed=1)
    assert out.shape == x.shape
    tail = out[int(0.3 * SR) : int(0.8 * SR)]
    assert np.sqrt((tail**2).mean()) > 1e-3  # the room rings after the sound stopped
    assert not np.allclose(out[:, 0], out[:, 1])  # and is stereo


def test_lofi_is_band_limited_and_loops_seamlessly() -> None:
    x = _sine(4.0, 440.0) * 0.3 + _sine(4.0, 9000.0) * 0.3
    out = effects.lofi(x, SR, seed=2, circular=True)
    spectrum = np.abs(np.fft.rfft(out[:, 0]))
    freqs = np.fft.rfftfreq(len(out), 1 / SR)
    near = lambda f: spectrum[(freqs > f - 50) & (freqs < f + 50)].max()  # noqa: E731
    assert near(9000) < 0.05 * near(440)  # the top is rolled off
    seam = np.abs(out[0] - out[-1]).max()
    assert seam <= np.percentile(np.abs(np.diff(out, axis=0)).max(axis=1), 99.9)


def test_tone_leaves_bright_styles_alone_and_darkens_others() -> None:
    x = _sine(1.0, 8000.0)
    assert effects.tone(x, SR, lowpass_hz=16000.0, circular=False) is x
    dark = effects.tone(x, SR, lowpass_hz=3000.0, circular=False)
    assert np.sqrt((dark[SR // 2 :] ** 2).mean()) < 0.2 * np.sqrt((x**2).mean())
