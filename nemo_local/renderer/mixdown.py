"""Mix the draft's audio in numpy: decode each source once (PyAV), place, loop, fade, sum, limit.

Doing this outside ffmpeg keeps the video encode a single simple pass, lets the cover card show the real
waveform, and makes every audio-only export a plain encode of one WAV.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
from scipy.ndimage import minimum_filter1d, uniform_filter1d

from nemo_local.renderer.errors import RenderCancelled, RenderError
from nemo_local.renderer.timeline import Segment, Timeline

SAMPLE_RATE = 44100
_CEILING = 0.89  # about -1 dBFS


def decode_audio(
    path: Path, start: float, duration: float, cancel: threading.Event | None = None
) -> np.ndarray:
    """Stereo float32 audio of ``path`` from ``start`` s for up to ``duration`` s (shorter if the file ends)."""
    want = round(duration * SAMPLE_RATE)
    out = np.zeros((want, 2), dtype=np.float32)
    filled = 0
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise RenderError(f"cannot read media {path.name!r}: {exc}") from exc
    with container:
        if not container.streams.audio:
            return out[:0]
        stream = container.streams.audio[0]
        if start > 1.0:
            container.seek(int((start - 0.5) * av.time_base), any_frame=False, backward=True)
        # mono plays at full level on both sides (ffmpeg's default upmix would lower it by 3 dB)
        mono = stream.codec_context.channels == 1
        resampler = av.AudioResampler(format="fltp", layout="mono" if mono else "stereo", rate=SAMPLE_RATE)
        position: float | None = None
        for packet in container.demux(stream):
            if cancel is not None and cancel.is_set():
                raise RenderCancelled("render cancelled")
            for frame in packet.decode():
                frame_time = (
                    float(frame.pts * frame.time_base) if frame.pts is not None and frame.time_base else None
                )
                for res in resampler.resample(frame):
                    data = res.to_ndarray().T.astype(np.float32)  # (n, channels)
                    if mono:
                        data = np.repeat(data, 2, axis=1)
                    if position is None:
                        position = frame_time if frame_time is not None else 0.0
                    offset = round((position - start) * SAMPLE_RATE)
                    position += len(data) / SAMPLE_RATE
                    a = max(0, -offset)
                    b = min(len(data), want - offset)
                    if b > a:
                        out[offset + a : offset + b] = data[a:b]
                        filled = max(filled, offset + b)
            if filled >= want:
                break
    return out[:filled]


def _envelope(n: int, fade_in: int, fade_out: int) -> np.ndarray | None:
    if fade_in <= 0 and fade_out <= 0:
        return None
    env = np.ones(n, dtype=np.float32)
    if fade_in > 0:
        k = min(fade_in, n)
        env[:k] = np.linspace(0.0, 1.0, k, dtype=np.float32)[:k]
    if fade_out > 0:
        k = min(fade_out, n)
        env[n - k :] *= np.linspace(1.0, 0.0, k, dtype=np.float32)
    return env


def _place(mix: np.ndarray, seg: Segment, audio: np.ndarray, loop: bool) -> None:
    start = round(seg.start * SAMPLE_RATE)
    length = min(round(seg.duration * SAMPLE_RATE), len(mix) - start)
    if length <= 0 or len(audio) == 0:
        return
    if len(audio) < length and loop:
        reps = -(-length // len(audio))
        audio = np.tile(audio, (reps, 1))
    clip = audio[:length]
    env = _envelope(len(clip), int(seg.fade_in * SAMPLE_RATE), int(seg.fade_out * SAMPLE_RATE))
    gain = np.float32(seg.volume)
    if env is None:
        mix[start : start + len(clip)] += clip * gain
    else:
        mix[start : start + len(clip)] += clip * (env[:, None] * gain)


def safety_limit(x: np.ndarray) -> np.ndarray:
    """Keep a sum of loud sources under about -1 dBFS with a smooth look-ahead gain (no hard clipping)."""
    if len(x) == 0 or max(float(x.max()), -float(x.min())) <= _CEILING:
        return x
    peak = np.abs(x).max(axis=1)
    need = np.minimum(1.0, _CEILING / np.maximum(peak, 1e-9))
    window = int(0.005 * SAMPLE_RATE) | 1
    gain = uniform_filter1d(minimum_filter1d(need, size=2 * window - 1), size=window)
    gain = np.minimum(gain, need)
    return (x * gain[:, None].astype(np.float32)).astype(np.float32)


def mix_timeline(
    timeline: Timeline,
    resolve: Callable[[str], Path],
    cancel: threading.Event | None = None,
) -> np.ndarray:
    """The whole draft's audio as (n, 2) float32 at 44.1 kHz, exactly the draft's duration long."""
    n = round(timeline.duration * SAMPLE_RATE)
    mix = np.zeros((n, 2), dtype=np.float32)
    sources: list[tuple[Segment, bool]] = [(s, True) for s in timeline.audio]
    sources += [(s, False) for s in timeline.video if s.volume > 0]
    for seg, is_music in sources:
        if cancel is not None and cancel.is_set():
            raise RenderCancelled("render cancelled")
        assert seg.src is not None
        path = resolve(seg.src)
        audio = decode_audio(path, seg.source_offset, seg.duration, cancel)
        if not is_music and len(audio) == 0:
            continue  # silent clip or a picture
        _place(mix, seg, audio, loop=is_music)
    return safety_limit(mix)
