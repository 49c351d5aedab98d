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
    from nemo_provider.quality import levels, loudness, seam
    from nemo_provider.quality.decode import decode
    from nemo_provider.quality.spectra import Spectra

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
            spectra = timed("spectrum", Spectra, x, sr)
            weighted = timed("loudness", spectra.filtered, loudness.k_response(sr, spectra.n_fft))
            audio_report.integrated_lufs = timed("loudness", loudness.gated_lufs, weighted, sr)
            del weighted
            audio_report.true_peak_dbtp, audio_report.sample_peak_dbfs = timed(
                "true_peak", loudness.true_peak_dbtp, x
            )
            window_db = timed("silence", levels.window_levels_db, x, sr)
            lead, trail, dropouts = levels.silence(window_db)
            audio_report.leading_silence_s, audio_report.trailing_silence_s = lead, trail
            audio_report.dropouts = dropouts
            audio_report.clipped_runs = timed("clipping", levels.clipped_runs, x)
            audio_report.level_curve_dbfs = loudness.level_curve(x)
            half = timed("seam", spectra.mono, _HALF)
            audio_report.seam = timed("seam", seam.seam, half, sr // _HALF)
            if music:
                _music(audio_report, half, sr // _HALF, timed)

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


def _music(report: AudioReport, mono: np.ndarray, sr: int, timed: Callable[..., Any]) -> None:
    from nemo_provider.quality import music

    env = timed("tempo", music.onset_envelope, mono, sr)
    report.tempo_bpm, report.tempo_confidence = timed("tempo", music.tempo, env, sr)
    report.onset_curve = [float(c.mean()) if c.size else 0.0 for c in np.array_split(env, 10)]
    report.key, report.key_confidence = timed("key", music.key, mono, sr)
