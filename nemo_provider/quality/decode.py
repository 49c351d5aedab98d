"""Reading a media file with PyAV: stream facts, the decoded audio, and the video's real length.

Audio is decoded (its length is then counted in samples, which is exact where container headers are not:
raw ADTS AAC, for one); video is only demuxed: its frame count and timestamps give its length without
decoding a single picture, which keeps a 1080p check cheap.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Audio decoders whose samples after SPLIT_WARMUP packets no longer depend on what came before (MP3's
#: bit reservoir spans at most ~3 frames, its filter banks one): a long file is decoded in two halves
#: side by side. Not AAC: its noise substitution (PNS, on in FFmpeg's encoder) draws from a generator
#: that runs through the whole file, so a second decoder's noise differs (peaks by up to 0.4 here);
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


def _planes(frame: Any, out: list[list[np.ndarray]]) -> None:
    """Append a planar float frame's channels to ``out`` (no per-frame vstack: ~2300 frames a minute)."""
    for ch, plane in zip(out, frame.planes, strict=False):
        ch.append(np.frombuffer(plane, np.float32, frame.samples))


def _planar_float(frame: Any, resampler: Any, out: list[list[np.ndarray]]) -> None:
    if frame.format.name == "fltp":
        _planes(frame, out)
    else:
        for f in resampler.resample(frame):
            _planes(f, out)


def _decode_run(
    ctx: Any, packets: list[Any], skip: int, resampler: Any, out: list[list[np.ndarray]]
) -> float | None:
    """Decode ``packets`` in order with ``ctx``, keeping the samples of all but the first ``skip``
    packets; returns the first kept frame's time."""
    first: float | None = None
    for i, packet in enumerate(packets):
        for frame in ctx.decode(packet):
            if i < skip:
                continue
            if first is None and frame.pts is not None and frame.time_base:
                first = float(frame.pts * frame.time_base)
            _planar_float(frame, resampler, out)
    return first


def _decode_audio(
    path: str, stream: Any, packets: list[Any], resampler: Any, out: list[list[np.ndarray]]
) -> float | None:
    """Decode the audio packets into ``out``, a long file's two halves side by side where that is exact.

    FFmpeg's decoders drop the GIL while they work. For codecs whose state after a few packets depends
    on those packets alone (``SPLIT_CODECS``) a second decoder started ``SPLIT_WARMUP`` packets before the half yields the same samples from the
    half on, so on two cores a minute of MP3 decodes in a little over half the time; tests hold the
    samples to a one-pass decode, bit for bit. Returns the first frame's time.
    """
    ctx = stream.codec_context
    half = len(packets) // 2
    if ctx.name not in SPLIT_CODECS or ctx.format.name != "fltp" or half < SPLIT_MIN_PACKETS:
        return _decode_run(ctx, packets, 0, resampler, out)
    import av

    tail: list[list[np.ndarray]] = [[] for _ in out]
    with av.open(path) as twin, ThreadPoolExecutor(max_workers=1) as pool:
        twin_ctx = twin.streams.audio[0].codec_context  # decode() reads the first audio stream
        second = pool.submit(_decode_run, twin_ctx, packets[half - SPLIT_WARMUP :], SPLIT_WARMUP, None, tail)
        first = _decode_run(ctx, packets[:half], 0, resampler, out)
        second.result()
    for ch, parts in zip(out, tail, strict=True):
        ch.extend(parts)
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


def decode(path: str | os.PathLike[str]) -> Decoded:
    """Decode ``path``'s first audio stream and time its first video stream (demuxed on a second
    container, beside the audio); raises ``av.error.FFmpegError`` if unreadable."""
    import av

    with av.open(os.fspath(path)) as container:
        astream = container.streams.audio[0] if container.streams.audio else None
        vstream = container.streams.video[0] if container.streams.video else None
        resampler = None
        chunks: list[list[np.ndarray]] = []
        if astream is not None:
            chunks = [[] for _ in range(astream.codec_context.layout.nb_channels)]
            layout = astream.codec_context.layout.name
            resampler = av.AudioResampler(format="fltp", layout=layout, rate=astream.rate)
        a_first: float | None = None  # the first audio frame's time: < 0 is priming a player never presents
        with ThreadPoolExecutor(max_workers=1) as pool:
            # the picture's packets are counted from a second demuxer on another thread while this one
            # reads and decodes the sound (FFmpeg drops the GIL while decoding): a 1080p MP4's 1,500
            # video packets cost no wall time beside its AAC
            timing = pool.submit(_video_timing, os.fspath(path)) if vstream is not None else None
            if astream is not None:
                packets = list(container.demux(astream))
                a_first = _decode_audio(os.fspath(path), astream, packets, resampler, chunks)
            v_frames, v_first, v_end, v_pts = timing.result() if timing is not None else (0, None, 0, [])
        if resampler is not None and astream is not None and astream.codec_context.format.name != "fltp":
            for f in resampler.resample(None):
                _planes(f, chunks)

        audio = None
        if astream is not None:
            channels = astream.codec_context.layout.nb_channels
            # channel-major: every per-channel pass (filtering, peaks, clipping) then reads contiguously
            planar = np.zeros((channels, sum(map(len, chunks[0])) if chunks else 0), np.float32)
            for ch, parts in enumerate(chunks):
                if parts:
                    np.concatenate(parts, out=planar[ch])
            if a_first is not None and a_first < 0:
                # Matroska keeps an AAC encoder's priming at negative times (MP4 hides it in an edit
                # list, which FFmpeg applies while decoding): presentation starts at 0, so does the audio
                planar = planar[:, min(planar.shape[1], round(-a_first * astream.rate)) :]
            audio = planar.T
        fps = float(vstream.average_rate) if vstream is not None and vstream.average_rate else None
        v_duration = 0.0
        if vstream is not None and v_frames:
            v_duration = float((v_end - (v_first or 0)) * (vstream.time_base or 0))
            if v_duration <= 0 and fps:
                v_duration = v_frames / fps
            steps = np.diff(np.unique(v_pts))
            if container.format.name in FRAME_INDEXED and steps.size and vstream.time_base:
                period = float(np.median(steps) * vstream.time_base)
                v_duration, fps = v_frames * period, 1 / period
        frame_size = astream.codec_context.frame_size if astream is not None else 0
        return Decoded(
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
            fps=fps,
            video_frames=v_frames,
            video_duration_s=v_duration,
        )
