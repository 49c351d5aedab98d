"""measure(path) -> MediaReport: decode once, then every measurement on the decoded samples."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from nemo_provider.quality.report import AudioReport, MediaReport, VideoReport

T = TypeVar("T")

#: seam, tempo and key are judged on the mono mix at half the rate (22.05/24 kHz, librosa's default:
#: hi-hats and cymbals, and the chroma's upper harmonics, reach 11 kHz)
_HALF = 2


class MediaUnreadableError(ValueError):
    """The file is not media FFmpeg can read (empty, truncated, or another kind of file)."""


def measure(path: str | os.PathLike[str], *, music: bool = True) -> MediaReport:
    """Measure a local media file of any export format (audio, video or GIF).

    ``music=False`` skips tempo and key (the slowest part), e.g. for a speech or a video-only check.
    """
    from nemo_provider.quality.decode import decode

    timings: dict[str, float] = {}

    def timed(name: str, fn: Callable[..., T], *args: Any) -> T:
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - start

    path = os.fspath(path)
    size = os.path.getsize(path)
    try:
        dec = timed("decode", decode, path)
    except Exception as err:  # av.error.* for a damaged or foreign file
        raise MediaUnreadableError(f"{path} is not readable media ({type(err).__name__}: {err}).") from err

    audio_report = None
    if dec.audio is not None and dec.audio_codec is not None:
        x, sr = dec.audio, dec.sample_rate
        audio_report = AudioReport(
            codec=dec.audio_codec,
            sample_rate=sr,
            channels=dec.channels,
            duration_s=len(x) / sr if sr else 0.0,
            frame_s=dec.audio_frame_s,
        )
        if len(x):
            _measure_audio(audio_report, x, sr, music, timed)

    video_report = None
    if dec.video_codec is not None:
        video_report = VideoReport(
            codec=dec.video_codec,
            width=dec.width,
            height=dec.height,
            fps=dec.fps,
            frames=dec.video_frames,
            duration_s=dec.video_duration_s,
        )
    durations = [r.duration_s for r in (audio_report, video_report) if r is not None]
    return MediaReport(
        path=path,
        container=dec.container,
        size=size,
        duration_s=max(durations) if durations else dec.duration_s,
        audio=audio_report,
        video=video_report,
        av_offset_s=(video_report.duration_s - audio_report.duration_s)
        if audio_report is not None and video_report is not None
        else None,
        timings=timings,
    )


def _workers() -> int:
    try:
        return max(1, min(2, len(os.sched_getaffinity(0))))
    except AttributeError:  # not Linux
        return max(1, min(2, os.cpu_count() or 1))


def _measure_audio(
    report: AudioReport, x: np.ndarray, sr: int, music: bool, timed: Callable[..., Any]
) -> None:
    """Every audio measurement, the independent ones on two threads.

    numpy's FFTs, products and reductions release the GIL, so on two cores the peaks, levels, seam,
    tempo and key run beside the loudness filter; the critical path is decode -> block spectra -> mono
    -> tempo. On one core this is the serial order, no slower.
    """
    from concurrent.futures import ThreadPoolExecutor

    from nemo_provider.quality import levels, loudness, seam
    from nemo_provider.quality.filtering import Blocks, k_response

    def ends_and_levels() -> None:
        window_db = timed("silence", levels.window_levels_db, x, sr)
        report.leading_silence_s, report.trailing_silence_s, report.dropouts = levels.silence(window_db)
        report.clipped_runs = timed("clipping", levels.clipped_runs, x)
        report.level_curve_dbfs = timed("silence", loudness.level_curve, x)

    with ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="nemo-quality") as pool:
        jobs = [pool.submit(timed, "true_peak", loudness.true_peak_dbtp, x), pool.submit(ends_and_levels)]
        blocks = timed("spectrum", Blocks, x, sr)
        half = timed("mono", blocks.mono, _HALF)
        if music:
            jobs.append(pool.submit(_tempo, report, half, sr // _HALF, timed))
            jobs.append(pool.submit(timed, "key", _key, report, half, sr // _HALF))
        jobs.append(pool.submit(timed, "seam", seam.seam, half, sr // _HALF))
        weighted = timed("loudness", blocks.filtered, k_response(sr))
        del blocks
        report.integrated_lufs = timed("loudness", loudness.gated_lufs, weighted, sr)
        del weighted
        report.true_peak_dbtp, report.sample_peak_dbfs = jobs[0].result()
        for job in jobs[1:]:
            job.result()  # raises what the job raised
        report.seam = jobs[-1].result()


def _tempo(report: AudioReport, mono: np.ndarray, sr: int, timed: Callable[..., Any]) -> None:
    from nemo_provider.quality import music

    env = timed("tempo", music.onset_envelope, mono, sr)
    report.tempo_bpm, report.tempo_confidence = timed("tempo", music.tempo, env, sr)
    report.onset_curve = [float(c.mean()) if c.size else 0.0 for c in np.array_split(env, 10)]


def _key(report: AudioReport, mono: np.ndarray, sr: int) -> None:
    from nemo_provider.quality import music

    report.key, report.key_confidence = music.key(mono, sr)
