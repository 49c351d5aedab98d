"""Reading a media file with PyAV: stream facts, the decoded audio, and the video's real length.

Audio is decoded (its length is then counted in samples, which is exact where container headers are not:
raw ADTS AAC, for one); video is only demuxed: its frame count and timestamps give its length without
decoding a single picture, which keeps a 1080p check cheap.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

#: Audio decoders whose samples after SPLIT_WARMUP packets no longer depend on what came before (MP3's
#: bit reservoir spans at most ~3 frames, its filter banks one): a long file is decoded in two halves
#: side by side. Not AAC: its noise substitution (PNS, on in FFmpeg's encoder) draws from a generator
#: that runs through the whole file, so a second decoder's noise differs (samples by up to 0.4; a
#: 96 kb/s file's true peak by 0.15 dB, across the -1 dBTP ceiling);
#: Opus and Vorbis converge over a pre-roll instead of matching exactly. Those decode in one pass.
SPLIT_CODECS = frozenset({"mp3float", "mp3"})
SPLIT_WARMUP = 16
SPLIT_MIN_PACKETS = 256  # below ~6 s a second decoder costs more than it saves

#: Containers without real timestamps: AVI indexes frames, and FFmpeg synthesises their pts (with the
#: encoder's reorder delay added and one-tick durations), so the picture's length is its frame count
#: times its frame period (the pts step), not the span of those pts
FRAME_INDEXED = frozenset({"avi"})


@dataclass
class Decoded:
    container: str
    duration_s: float  # the container's own claim (headers); 0 when it has none
    audio: np.ndarray | None  # float32 (n, channels), each channel contiguous (a transposed (channels, n))
    audio_codec: str | None
    sample_rate: int
    channels: int
    audio_frame_s: float
    video_codec: str | None
    width: int
    height: int
    fps: float | None
    video_frames: int
    video_duration_s: float
    _video: Callable[[Decoded], None] | None = field(default=None, repr=False)
    _video_error: BaseException | None = field(default=None, repr=False)

    def finish_video(self) -> None:
        """Count the picture's packets, if ``decode(..., video_later=True)`` left them for later (so a
        caller can run it beside other work); raises what reading them raised, on every call."""
        if self._video is not None:
            video, self._video = self._video, None
            try:
                video(self)
            except BaseException as err:
                self._video_error = err
        if self._video_error is not None:
            raise self._video_error


def _planar_float(frame: Any, resampler: Any, out: list[np.ndarray]) -> None:
    """Append a frame's samples as one (channels, n) float32 array (one copy per frame: with FFmpeg's
    audio FIFO instead, or an array per plane, a minute of AAC took 10 % longer)."""
    if frame.format.name == "fltp":
        out.append(frame.to_ndarray())
    else:
        out.extend(f.to_ndarray() for f in resampler.resample(frame))


def _decode_run(
    ctx: Any, packets: Iterable[Any], skip: int, resampler: Any, out: list[np.ndarray]
) -> float | None:
    """Decode ``packets`` in order with ``ctx`` (a list, or the demuxer itself: then each packet is
    decoded as it is read), appending the samples of all but the first ``skip`` packets to ``out``;
    returns the first kept frame's time."""
    first: float | None = None
    for i, packet in enumerate(packets):
        for frame in ctx.decode(packet):
            if i < skip:
                continue
            if first is None and frame.pts is not None and frame.time_base:
                first = float(frame.pts * frame.time_base)
            _planar_float(frame, resampler, out)
    if resampler is not None and ctx.format.name != "fltp":
        out.extend(f.to_ndarray() for f in resampler.resample(None))
    return first


def _decode_audio(
    path: str, container: Any, stream: Any, resampler: Any, out: list[np.ndarray]
) -> float | None:
    """Decode the audio packets into ``out``, a long file's two halves side by side where that is exact.

    FFmpeg's decoders drop the GIL while they work. For codecs whose state after a few packets depends
    on those packets alone (``SPLIT_CODECS``) a second decoder started ``SPLIT_WARMUP`` packets before the half yields the same samples from the
    half on, so on two cores a minute of MP3 decodes in a little over half the time; tests hold the
    samples to a one-pass decode, bit for bit. Returns the first frame's time.
    """
    ctx = stream.codec_context
    if ctx.name not in SPLIT_CODECS or ctx.format.name != "fltp":
        return _decode_run(ctx, container.demux(stream), 0, resampler, out)
    packets = list(container.demux(stream))  # the half is found on the whole list (a few ms a minute)
    half = len(packets) // 2
    if half < SPLIT_MIN_PACKETS:
        return _decode_run(ctx, packets, 0, resampler, out)
    import av

    tail: list[np.ndarray] = []
    with av.open(path) as twin, ThreadPoolExecutor(max_workers=1) as pool:
        twin_ctx = twin.streams.audio[0].codec_context  # decode() reads the first audio stream
        second = pool.submit(_decode_run, twin_ctx, packets[half - SPLIT_WARMUP :], SPLIT_WARMUP, None, tail)
        first = _decode_run(ctx, packets[:half], 0, resampler, out)
        second.result()
    out.extend(tail)
    return first


def _video_timing(path: str) -> tuple[int, int | None, int, list[int]]:
    """(frames, first pts, end pts, every pts) of the first video stream's packets: demuxed, not decoded."""
    import av

    first: int | None = None
    end = 0
    pts: list[int] = []
    with av.open(path) as container:
        for packet in container.demux(container.streams.video[0]):
            if packet.pts is None or packet.size == 0:
                continue
            pts.append(packet.pts)
            first = packet.pts if first is None else min(first, packet.pts)
            end = max(end, packet.pts + (packet.duration or 0))
    return len(pts), first, end, pts


def _fill_video(dec: Decoded, path: str, fmt: str, time_base: Any) -> None:
    """The video's frame count, length and (for frame-indexed containers) fps, from its packets."""
    frames, first, end, pts = _video_timing(path)
    if not frames:
        return
    fps = dec.fps
    duration = float((end - (first or 0)) * (time_base or 0))
    if duration <= 0 and fps:
        duration = frames / fps
    steps = np.diff(np.unique(pts))
    if fmt in FRAME_INDEXED and steps.size and time_base:
        period = float(np.median(steps) * time_base)
        duration, fps = frames * period, 1 / period
    dec.video_frames, dec.video_duration_s, dec.fps = frames, duration, fps


def decode(path: str | os.PathLike[str], *, video_later: bool = False) -> Decoded:
    """Decode ``path``'s first audio stream and time its first video stream (demuxed, not decoded);
    raises ``av.error.FFmpegError`` if unreadable. ``video_later``: the video's frame count, length
    and fps are filled in by ``Decoded.finish_video()``."""
    import av

    with av.open(os.fspath(path)) as container:
        astream = container.streams.audio[0] if container.streams.audio else None
        vstream = container.streams.video[0] if container.streams.video else None
        resampler = None
        chunks: list[np.ndarray] = []  # (channels, n) each
        if astream is not None:
            layout = astream.codec_context.layout.name
            resampler = av.AudioResampler(format="fltp", layout=layout, rate=astream.rate)
        a_first: float | None = None  # the first audio frame's time: < 0 is priming a player never presents
        if astream is not None:
            a_first = _decode_audio(os.fspath(path), container, astream, resampler, chunks)

        audio = None
        if astream is not None:
            channels = astream.codec_context.layout.nb_channels
            # channel-major: every per-channel pass (filtering, peaks, clipping) then reads contiguously
            planar = (
                np.concatenate(chunks, axis=1).astype(np.float32, copy=False)
                if chunks
                else np.zeros((channels, 0), np.float32)
            )
            if a_first is not None and a_first < 0:
                # Matroska keeps an AAC encoder's priming at negative times (MP4 hides it in an edit
                # list, which FFmpeg applies while decoding): presentation starts at 0, so does the audio
                planar = planar[:, min(planar.shape[1], round(-a_first * astream.rate)) :]
            audio = planar.T
        frame_size = astream.codec_context.frame_size if astream is not None else 0
        decoded = Decoded(
            container=container.format.name,
            duration_s=(container.duration or 0) / 1_000_000,
            audio=audio,
            audio_codec=astream.codec_context.name if astream is not None else None,
            sample_rate=int(astream.rate) if astream is not None else 0,
            channels=audio.shape[1] if audio is not None else 0,
            audio_frame_s=(frame_size / astream.rate) if astream is not None and frame_size else 0.0,
            video_codec=vstream.codec_context.name if vstream is not None else None,
            width=int(vstream.codec_context.width) if vstream is not None else 0,
            height=int(vstream.codec_context.height) if vstream is not None else 0,
            fps=float(vstream.average_rate) if vstream is not None and vstream.average_rate else None,
            video_frames=0,
            video_duration_s=0.0,
        )
        if vstream is not None:
            # the picture's packets on a demuxer of their own, after the sound: counting them on a
            # second thread beside the decode made both slower (their GIL hand-offs: 77 ms against 66
            # for an MP4); beside the numpy analysis that follows it costs little
            fmt, time_base = container.format.name, vstream.time_base
            # (a partial, not a closure over ``decoded``: a cycle would keep the samples until a GC pass)
            decoded._video = partial(_fill_video, path=os.fspath(path), fmt=fmt, time_base=time_base)
            if not video_later:
                decoded.finish_video()
        return decoded
