"""measure(): every export format decodes, and each measurement is right on signals with known values."""

from __future__ import annotations

import math
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from nemo_provider.quality import check, measure
from nemo_provider.quality.measuring import MediaUnreadableError
from tests.quality.conftest import SR, write_wav


def sine(seconds: float, freq: float = 997.0, level_db: float = -20.0, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    x = 10 ** (level_db / 20) * np.sin(2 * np.pi * freq * t)
    return np.stack([x, x], axis=1).astype(np.float32)


ENCODED = ["mp3", "wav", "m4a", "aac", "flac", "mp4", "mov", "mkv", "webm", "avi"]


def test_every_export_format_has_a_measure_test() -> None:
    from nemo_provider.client.constants import EXPORT_FORMATS

    assert set(EXPORT_FORMATS) <= {*ENCODED, "gif"}, set(EXPORT_FORMATS) - {*ENCODED, "gif"}


@pytest.mark.parametrize("fmt", ENCODED)
def test_every_format_measures_its_streams_and_length(encode, track, fmt) -> None:
    composed, _ = track
    report = measure(encode(fmt))
    assert report.audio is not None and report.audio.sample_rate in (44100, 48000)
    assert report.audio.channels == 2
    result = check(
        report, {"format": fmt, "duration_s": composed.duration_s, "lines": 1080 if report.video else None}
    )
    assert result.passed, result.summary()
    if fmt in ("mp4", "mov", "mkv", "webm", "avi"):
        assert report.video is not None and (report.video.width, report.video.height) == (1920, 1080)
        assert report.video.fps == pytest.approx(30.0)
        sync = next(o for o in result.outcomes if o.name == "av_sync_s")  # ± 40 ms; AVI's MP3: + 2 frames
        assert sync.judged and sync.passed and abs(report.av_offset_s) <= 0.040 + 2 * report.audio.frame_s
    else:
        assert report.video is None


def test_gif_has_a_picture_and_no_sound(encode) -> None:
    report = measure(encode("gif"))
    assert report.audio is None and report.video is not None
    assert report.video.codec == "gif" and (report.video.width, report.video.height) == (320, 180)
    assert check(report, {"format": "gif", "duration_s": 3.0}).passed


def test_raw_aac_length_is_counted_not_taken_from_headers(encode, track) -> None:
    # ffprobe-style header estimates misread ADTS lengths; decoding counts the samples
    composed, _ = track
    report = measure(encode("aac"))
    assert report.audio is not None
    assert abs(report.audio.duration_s - composed.duration_s) <= 0.05


def test_loudness_and_true_peak_agree_with_ffmpegs_ebur128(track) -> None:
    """An independent meter (FFmpeg's ebur128 filter) reads the same file within 0.2 LU / 0.3 dB."""
    import imageio_ffmpeg

    _, wav = track
    report = measure(wav, music=False)
    run = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(wav), "-af", "ebur128=peak=true",
         "-f", "null", "-"], capture_output=True, text=True, check=True,
    )  # fmt: skip
    summary = run.stderr[run.stderr.rindex("Summary:") :]
    lufs = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))
    peak = float(re.search(r"Peak:\s+(-?[\d.]+) dBFS", summary).group(1))
    assert report.audio.integrated_lufs == pytest.approx(lufs, abs=0.2)
    assert report.audio.true_peak_dbtp == pytest.approx(peak, abs=0.3)


def test_sine_loudness_follows_its_level(tmp_path: Path) -> None:
    quiet = measure(write_wav(tmp_path / "q.wav", sine(5, level_db=-30)), music=False)
    loud = measure(write_wav(tmp_path / "l.wav", sine(5, level_db=-10)), music=False)
    assert loud.audio.integrated_lufs - quiet.audio.integrated_lufs == pytest.approx(20.0, abs=0.1)
    assert loud.audio.true_peak_dbtp == pytest.approx(-10.0, abs=0.1)


def test_silence_dropouts_and_clipping_are_found(tmp_path: Path) -> None:
    x = sine(6, level_db=-12)
    x[: int(0.5 * SR)] = 0  # half a second before anything plays
    x[int(3.0 * SR) : int(3.3 * SR)] = 0  # a 300 ms dropout
    x[int(4 * SR) : int(4.2 * SR)] *= 8  # driven into the rails
    report = measure(write_wav(tmp_path / "bad.wav", x), music=False)
    a = report.audio
    assert a.leading_silence_s == pytest.approx(0.5, abs=0.011)
    assert len(a.dropouts) == 1 and a.dropouts[0][0] == pytest.approx(3.0, abs=0.011)
    assert a.clipped_runs > 0
    result = check(report, {"format": "wav", "true_peak_max_dbtp": None})
    assert {m.name for m in result.misses} == {"leading_silence_s", "dropouts", "clipping"}


def _clicks(bpm: float, seconds: float, sr: int = SR) -> np.ndarray:
    x = np.zeros(int(seconds * sr), np.float32)
    period = 60.0 / bpm
    burst = (np.hanning(400) * np.random.default_rng(1).normal(0, 0.5, 400)).astype(np.float32)
    for i in range(int(seconds / period)):
        start = int(i * period * sr)
        accent = 1.0 if i % 4 == 0 else 0.6
        x[start : start + 400] += accent * burst[: len(x) - start]
    return np.stack([x, x], axis=1)


@pytest.mark.parametrize("bpm", [72.0, 100.0, 126.0])
def test_tempo_of_a_click_track(tmp_path: Path, bpm: float) -> None:
    report = measure(write_wav(tmp_path / "clicks.wav", _clicks(bpm, 12)))
    assert report.audio.tempo_confidence > 0.3
    measured = report.audio.tempo_bpm
    assert min(abs(measured / bpm - r) for r in (0.5, 1.0, 2.0)) <= 0.01, measured


def _chords(tonic_midi: int, minor: bool, seconds: float = 8.0) -> np.ndarray:
    third = 3 if minor else 4
    prog = [(0, third, 7), (5, 5 + (3 if minor else 4), 12), (7, 11, 14), (0, third, 7)]  # i iv V i
    per = seconds / len(prog)
    t = np.arange(int(per * SR)) / SR
    out = []
    for chord in prog:
        tone = sum(np.sin(2 * np.pi * 440 * 2 ** ((tonic_midi + n - 69) / 12) * t) for n in (*chord, -12))
        out.append(0.1 * tone * np.exp(-t))
    x = np.concatenate(out).astype(np.float32)
    return np.stack([x, x], axis=1)


@pytest.mark.parametrize(("tonic", "minor", "name"), [(57, True, "A minor"), (62, False, "D major")])
def test_key_of_a_cadence(tmp_path: Path, tonic: int, minor: bool, name: str) -> None:
    report = measure(write_wav(tmp_path / "chords.wav", _chords(tonic, minor)))
    outcome = check(report, {"key": name}).outcomes[-1]
    assert outcome.name == "key" and outcome.judged and outcome.passed, (report.audio.key, outcome)


def test_loop_seam_clean_wrap_passes_and_a_cut_wrap_fails(tmp_path: Path) -> None:
    cycles = sine(6, freq=441.0)  # exactly 441 cycles per second: wraps on a zero crossing
    clean = measure(write_wav(tmp_path / "clean.wav", cycles + 0.02 * _clicks(120, 6)))
    assert check(clean, {"loop": True}).passed, check(clean, {"loop": True}).summary()
    cut = cycles.copy()
    cut[-int(0.7 * SR) :] *= 0.05  # the end drops away: the wrap jumps back up, on a half cycle
    cut = cut[: -int(SR / 441 / 2)]
    result = check(
        measure(write_wav(tmp_path / "cut.wav", cut + 0.02 * _clicks(120, len(cut) / SR))), {"loop": True}
    )
    assert "loop_seam" in {m.name for m in result.misses}


def test_an_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "track.mp3"
    junk.write_bytes(b"not audio at all" * 10)
    with pytest.raises(MediaUnreadableError, match="not readable media"):
        measure(junk)


def test_report_is_plain_json(track) -> None:
    import json

    _, wav = track
    data = measure(wav).as_dict()
    assert json.loads(json.dumps(data)) == data
    assert not any(isinstance(v, float) and math.isnan(v) for v in data["audio"].values())


def test_measure_runs_blas_single_threaded_beside_its_own_threads(track, monkeypatch) -> None:
    """Its two threads are the parallelism; BLAS's pool spinning beside them took their cores. The
    limit holds inside measure() only: the caller's BLAS threads are as they were afterwards."""
    from threadpoolctl import threadpool_info

    from nemo_provider.quality import seam

    def blas_threads() -> list[int]:
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    before = blas_threads()
    seen: list[list[int]] = []
    real = seam.seam

    def spy(*args):
        seen.append(blas_threads())
        return real(*args)

    monkeypatch.setattr(seam, "seam", spy)
    report = measure(track[1])
    assert report.audio is not None and report.audio.seam is not None
    assert seen and all(threads and set(threads) == {1} for threads in seen), seen
    assert blas_threads() == before
