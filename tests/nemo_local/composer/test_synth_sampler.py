"""The SoundFont reader and the numpy sample player, note by note."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nemo_local.composer import soundfont, synth
from nemo_local.composer.sampler import Channel, Note, Player

SR = 44100


@pytest.fixture(scope="module")
def font() -> soundfont.SoundFont:
    return soundfont.load(str(synth.soundfont_path()))


def _play(
    font: soundfont.SoundFont, program: int, notes: list[Note], seconds: float, **channel: object
) -> np.ndarray:
    ch = Channel(
        program=program,
        drum=bool(channel.get("drum", False)),
        volume=float(channel.get("volume", 1.0)),  # type: ignore[arg-type]
        pan=float(channel.get("pan", 0.5)),  # type: ignore[arg-type]
    )
    return Player(font, SR, -8.0).render([(ch, notes)], round(seconds * SR))


def _rms_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-30))


def test_the_bundled_font_has_every_general_midi_program_and_the_drum_kit(font: soundfont.SoundFont) -> None:
    assert all((0, program) in font.presets for program in range(128))
    assert font.preset(0, drum=True).bank == 128
    assert font.samples.dtype == np.float32 and np.abs(font.samples).max() <= 32768 / 32767


def test_a_file_that_is_not_a_soundfont_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "not.sf2"
    bogus.write_bytes(b"RIFF\x04\x00\x00\x00WAVE")
    with pytest.raises(soundfont.SoundFontError, match=r"not a readable SoundFont 2 file .*NEMO_SOUNDFONT"):
        soundfont.load(str(bogus))
    with pytest.raises(soundfont.SoundFontError, match=r"cannot read the SoundFont .*missing\.sf2"):
        soundfont.load(str(tmp_path / "missing.sf2"))


def test_a_note_sounds_at_its_pitch(font: soundfont.SoundFont) -> None:
    audio = _play(font, 73, [Note(0, SR, 69, 100)], 1.0)  # flute, A4
    mono = audio[SR // 4 : SR, 0].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    peak_hz = np.argmax(spectrum) * SR / len(mono)
    assert peak_hz == pytest.approx(440.0, abs=3.0)


def test_velocity_scales_amplitude_linearly(font: soundfont.SoundFont) -> None:
    loud = _play(font, 73, [Note(0, SR // 2, 69, 100)], 0.5)
    soft = _play(font, 73, [Note(0, SR // 2, 69, 50)], 0.5)
    assert _rms_db(loud) - _rms_db(soft) == pytest.approx(20 * np.log10(2), abs=0.3)


def test_channel_volume_and_pan_follow_tinysoundfonts_laws(font: soundfont.SoundFont) -> None:
    centre = _play(font, 73, [Note(0, SR // 2, 69, 100)], 0.5)
    left = _play(font, 73, [Note(0, SR // 2, 69, 100)], 0.5, pan=0.0)
    quiet = _play(font, 73, [Note(0, SR // 2, 69, 100)], 0.5, volume=0.5)
    assert np.allclose(centre[:, 0], centre[:, 1])
    assert np.abs(left[:, 1]).max() == 0.0 and np.abs(left[:, 0]).max() > 0.01
    # square-root pan law: centre is sqrt(0.5) of hard left on each side (-3 dB)
    assert _rms_db(centre[:, 0]) - _rms_db(left[:, 0]) == pytest.approx(-3.01, abs=0.1)
    assert _rms_db(centre) - _rms_db(quiet) == pytest.approx(6.02, abs=0.1)


def test_a_held_looped_note_sustains_and_its_release_ends_it(font: soundfont.SoundFont) -> None:
    audio = _play(font, 48, [Note(0, 2 * SR, 60, 100)], 6.0)[:, 0]  # strings: looped sample
    early, late = audio[SR // 2 : SR], audio[int(1.5 * SR) : 2 * SR]
    assert _rms_db(late) > _rms_db(early) - 3.0, "the loop should hold the note at its level"
    release_s = font.preset(48, drum=False).regions[0].amp_release
    after = audio[2 * SR + int((release_s + 0.1) * SR) :]
    assert np.abs(after).max() == 0.0, "the voice should end once its release is over"
    assert _rms_db(audio[2 * SR : 2 * SR + SR // 10]) < _rms_db(late), "the release decays"


def test_an_exclusive_class_cuts_the_open_hi_hat(font: soundfont.SoundFont) -> None:
    open_hat = [Note(0, SR, 46, 100)]
    alone = _play(font, 0, open_hat, 1.0, drum=True)
    cut = _play(font, 0, [*open_hat, Note(SR // 5, SR // 5 + 2000, 42, 1)], 1.0, drum=True)
    window = slice(SR // 2, SR)  # long after the (very soft, short) closed hat
    assert _rms_db(cut[window]) < _rms_db(alone[window]) - 30.0
    assert np.allclose(cut[: SR // 5], alone[: SR // 5])


def test_rendering_twice_gives_the_same_samples(font: soundfont.SoundFont) -> None:
    notes = [Note(i * 5000, i * 5000 + 20000, 60 + i, 90) for i in range(8)]
    player = Player(font, SR, -8.0)
    ch = Channel(program=4, drum=False, volume=0.8, pan=0.3)
    first = player.render([(ch, notes)], 3 * SR)
    again = player.render([(ch, notes)], 3 * SR)  # second time from the per-key source cache
    assert np.array_equal(first, again)
    assert np.isfinite(first).all() and np.abs(first).max() > 0.01
