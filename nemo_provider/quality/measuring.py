"""measure(path) -> MediaReport: decode once, then every measurement on the decoded samples."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

from nemo_provider.quality.filtering import BlockFilter, Filtered
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

    audio_report = None
    with (
        _one_blas_thread(),
        ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="nemo-quality") as pool,
    ):
        streams: list[_Streamed] = []

        def sink(channels: int, rate: int, expected: int) -> _Streamed:
            streams.append(_Streamed(BlockFilter(channels, rate, _DECIMATION, expected), pool, expected))
            return streams[-1]

        try:
            dec = timed("decode", lambda: decode(path, video_later=True, sink=sink))
        except Exception as err:
            raise unreadable(err) from err

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
                filtered = timed("filter", streams[0].filter.close, pool.map)
                _measure_audio(audio_report, filtered, music, timed, dec.finish_video, pool)
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


class _Streamed:
    """decode()'s sink: a pool thread filters the samples as they come (FFmpeg's decoders and numpy's
    FFTs both drop the GIL), so on two cores the block filtering is done when the decode is.

    The decoding thread only appends each frame to a list; the filtering thread takes what is there every
    few milliseconds and filters it a batch of blocks at a time, every channel in each numpy call. Both
    matter: the two threads hand the GIL to each other at every small Python step of either, and with a
    hand-off a frame or a block the decode took twice as long. As it is, a minute of AAC decodes in
    ~52 ms beside the filtering against ~43 ms alone, and the filtering (~35 ms on its own) is then done.
    This also made splitting a long MP3's decode in two halves (two decoders side by side) a loss.
    """

    _POLL_S = 0.002
    _RUN = 16  # blocks a batch

    def __init__(self, filter: BlockFilter, pool: Executor, expected: int) -> None:
        self.filter = filter
        self._expected = filter.blocks_for(expected)
        self._pieces: list[np.ndarray] = []
        self.put = self._pieces.append  # the decoding thread's whole share of the work
        self._closed = threading.Event()
        self._job = pool.submit(self._consume)

    def close(self) -> np.ndarray:
        self._closed.set()
        self._job.result()
        return self.filter.samples()

    def _consume(self) -> None:
        pieces, f = self._pieces, self.filter
        while True:
            closed = self._closed.wait(self._POLL_S)
            taken = len(pieces)  # the decoder only appends: the first ``taken`` are complete
            if taken:
                f.extend(pieces[:taken])
                del pieces[:taken]
            if closed:
                return  # close() filters the rest, on both threads
            ready = f.ready()
            if ready - f.done >= self._RUN or (ready > f.done and ready + self._RUN >= self._expected):
                f.run(ready)  # in batches, and near the end every block ready: little is left for close()


def _measure_audio(
    report: AudioReport,
    filtered: Filtered,
    music: bool,
    timed: Callable[..., Any],
    video: Callable[[], None],
    pool: Executor,
) -> None:
    """Every audio measurement on ``pool`` (two threads), submitted in critical-path order.

    numpy's FFTs, products and reductions release the GIL, so on two cores the peaks, levels, seam,
    tempo and key run side by side. The longest chain is the onset envelope -> tempo, so it goes
    first; the rest fill the gaps. On one core it is the serial order.
    """
    from nemo_provider.quality import levels, loudness, seam

    x, sr, mono = filtered.samples, filtered.rate, filtered.mono
    rate = sr // filtered.decimation

    def ends_and_levels() -> None:
        window_db = timed("silence", levels.window_levels_db, x, sr)
        report.leading_silence_s, report.trailing_silence_s, report.dropouts = levels.silence(window_db)
        report.clipped_runs = timed("clipping", levels.clipped_runs, x)
        report.level_curve_dbfs = timed("silence", loudness.level_curve, x)

    # longest first (the onset envelope), so the two threads finish together; this one waits.
    # The picture's packets go early (pure Python, beside numpy work); measure() raises their errors
    jobs = []
    if music:
        jobs.append(pool.submit(_tempo, report, mono, rate, timed))
        jobs.append(pool.submit(_key, report, mono, rate, timed))
    pool.submit(_quietly, video)
    lufs = pool.submit(timed, "loudness", loudness.gated_lufs, filtered.weighted, sr)
    seam_job = pool.submit(timed, "seam", seam.seam, mono, rate)
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
