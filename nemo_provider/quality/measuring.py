"""measure(path) -> MediaReport: decode once, then every measurement on the decoded samples."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from nemo_provider.quality.report import AudioReport, MediaReport, VideoReport

T = TypeVar("T")

#: seam, tempo and key are judged on the mono mix at half the rate (22.05/24 kHz, librosa's default:
#: hi-hats and cymbals, and the chroma's upper harmonics, reach 11 kHz). A quarter of the rate would
#: halve the onset STFT's cost, but loses what makes a build-up measurably denser (its hi-hats).
_DECIMATION = 2


class MediaUnreadableError(ValueError):
    """The file is not media FFmpeg can read (empty, truncated, or another kind of file)."""


def measure(path: str | os.PathLike[str], *, music: bool = True) -> MediaReport:
    """Measure a local media file of any export format (audio, video or GIF).

    ``music=False`` skips tempo and key (the slowest part), e.g. for a speech or a video-only check.
    """
    from nemo_provider.quality.decode import decode

    timings: dict[str, float] = {}
    lock = threading.Lock()  # stages run on two threads; each adds its own time

    def timed(name: str, fn: Callable[..., T], *args: Any) -> T:
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            took = time.perf_counter() - start
            with lock:
                timings[name] = timings.get(name, 0.0) + took

    path = os.fspath(path)
    size = os.path.getsize(path)

    def unreadable(err: Exception) -> MediaUnreadableError:  # av.error.* for a damaged or foreign file
        return MediaUnreadableError(f"{path} is not readable media ({type(err).__name__}: {err}).")

    try:
        dec = timed("decode", lambda: decode(path, video_later=True))
    except Exception as err:
        raise unreadable(err) from err

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
            _measure_audio(audio_report, x, sr, music, timed, dec.finish_video)
    try:
        timed("video", dec.finish_video)  # counted beside the audio analysis, or now
    except Exception as err:
        raise unreadable(err) from err

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


def _one_blas_thread() -> contextlib.AbstractContextManager[Any]:
    """One BLAS thread per caller while measuring: the pool is the parallelism, and BLAS's own threads
    spinning beside it took the cores from it (the warm check took 1.5x as long)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # an install of the extra from before it was added: right, only slower
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _measure_audio(
    report: AudioReport,
    x: np.ndarray,
    sr: int,
    music: bool,
    timed: Callable[..., Any],
    video: Callable[[], None],
) -> None:
    """Every audio measurement, on a pool of two threads, submitted in critical-path order.

    numpy's FFTs, products and reductions release the GIL, so on two cores the peaks, levels, seam,
    tempo and key run beside the loudness filter. The longest chain is decode -> block spectra ->
    mono mix -> tempo, so those go first; the rest fill the gaps. On one core it is the serial order.
    """
    from concurrent.futures import ThreadPoolExecutor

    from nemo_provider.quality import levels, loudness, seam
    from nemo_provider.quality.filtering import Blocks, k_response

    def ends_and_levels() -> None:
        window_db = timed("silence", levels.window_levels_db, x, sr)
        report.leading_silence_s, report.trailing_silence_s, report.dropouts = levels.silence(window_db)
        report.clipped_runs = timed("clipping", levels.clipped_runs, x)
        report.level_curve_dbfs = timed("silence", loudness.level_curve, x)

    with (
        _one_blas_thread(),
        ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="nemo-quality") as pool,
    ):
        blocks = timed("spectrum", Blocks, x, sr, pool.map)
        mono = timed("mono", blocks.mono, _DECIMATION)

        def loudness_of() -> float:
            weighted = timed("loudness", blocks.filtered, k_response(sr), map)
            return timed("loudness", loudness.gated_lufs, weighted, sr)

        # longest first (the onset envelope), so the two threads finish together; this one waits.
        # The picture's packets go early (pure Python, beside numpy work); measure() raises their errors
        jobs = []
        if music:
            jobs.append(pool.submit(_tempo, report, mono, sr // _DECIMATION, timed))
            jobs.append(pool.submit(_key, report, mono, sr // _DECIMATION, timed))
        pool.submit(_quietly, video)
        lufs = pool.submit(loudness_of)
        seam_job = pool.submit(timed, "seam", seam.seam, mono, sr // _DECIMATION)
        peak = pool.submit(timed, "true_peak", loudness.true_peak_dbtp, x)
        ends = pool.submit(ends_and_levels)
        report.integrated_lufs = lufs.result()
        report.true_peak_dbtp, report.sample_peak_dbfs = peak.result()
        report.seam = seam_job.result()
        for job in (*jobs, ends):
            job.result()  # raises what the job raised


def _quietly(fn: Callable[[], None]) -> None:
    with contextlib.suppress(Exception):
        fn()


def _tempo(report: AudioReport, mono: np.ndarray, rate: int, timed: Callable[..., Any]) -> None:
    from nemo_provider.quality import music

    env = timed("tempo", music.onset_envelope, mono, rate)
    report.tempo_bpm, report.tempo_confidence = timed("tempo", music.tempo, env, rate)
    report.onset_curve = [float(c.mean()) if c.size else 0.0 for c in np.array_split(env, 10)]


def _key(report: AudioReport, mono: np.ndarray, rate: int, timed: Callable[..., Any]) -> None:
    from nemo_provider.quality import music

    report.key, report.key_confidence = timed("key", music.key, mono, rate)
