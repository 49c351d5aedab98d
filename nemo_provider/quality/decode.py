"""Reading a media file with PyAV: stream facts, the decoded audio, and the video's real length.

Audio is decoded, each frame handed to a sink as it comes (measure() filters them meanwhile); its
length is then counted in samples, which is exact where container headers are not (raw ADTS AAC, for
one). Video is never decoded: its frame count and timestamps, from the MP4/MOV index or its demuxed
packets, give its length, which keeps a 1080p check cheap.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import numpy as np

#: Demuxers that read an index of every packet when they open a file (FFmpeg's mov: MP4, MOV, M4A and
#: 3GP's sample tables): the picture's timing comes from it (a millisecond for a minute of 1080p30)
#: instead of from demuxing its packets (~10 ms of Python holding the GIL)
SAMPLE_TABLED = frozenset({"mov,mp4,m4a,3gp,3g2,mj2"})

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


class Sink(Protocol):
    """Where the decoded samples go, in order: float32 (channels, k) pieces, then ``close``."""

    #: called on the decoding thread for every piece (a list's bound ``append``, say: it is per frame)
    put: Callable[[np.ndarray], None]

    def close(self) -> np.ndarray:
        """Every sample put, as one float32 (channels, n) array; called once, after the last put (also
        when decoding failed)."""
        ...


#: ``sink(channels, rate, expected samples)``: a Sink for a stream (the length is the container's
#: claim, capped: a guess to size buffers by, never trusted)
SinkFactory = Callable[[int, int, int], Sink]
_EXPECTED_CAP_S = 600.0


class _Collect:
    """The default sink: keeps the pieces and joins them once."""

    def __init__(self, channels: int, rate: int, expected: int) -> None:
        self.channels = channels
        self.pieces: list[np.ndarray] = []
        self.put = self.pieces.append

    def close(self) -> np.ndarray:
        if not self.pieces:
            return np.zeros((self.channels, 0), np.float32)
        return np.concatenate(self.pieces, axis=1).astype(np.float32, copy=False)


class _Presented:
    """Passes a decoder's pieces on, without what comes before time 0: Matroska keeps an AAC encoder's
    priming at negative times (MP4 hides it in an edit list, which FFmpeg applies while decoding), and
    presentation starts at 0, so does the audio. ``put`` is the sink's own once nothing is left to drop."""

    def __init__(self, sink: Sink, rate: int) -> None:
        self.sink, self.rate = sink, rate
        self.first: float | None = None  # the first frame's time
        self._drop = 0
        self.put: Callable[[np.ndarray], None] = sink.put

    def start(self, first: float) -> None:
        self.first = first
        self._drop = max(0, round(-first * self.rate))
        if self._drop:
            self.put = self._dropping

    def _dropping(self, piece: np.ndarray) -> None:
        cut = min(self._drop, piece.shape[1])
        self._drop -= cut
        if not self._drop:
            self.put = self.sink.put
        if cut < piece.shape[1]:
            self.sink.put(piece[:, cut:])


def _decode_run(ctx: Any, packets: Iterable[Any], resampler: Any, out: _Presented) -> None:
    """Decode ``packets`` in order with ``ctx`` (the demuxer itself: each packet is decoded as it is
    read), passing the samples on to ``out``, told the first frame's time: one float32 (channels, n)
    array per frame (with FFmpeg's audio FIFO instead, or an array per plane, a minute of AAC took 10 %
    longer). Decoders that do not output float planes go through ``resampler``."""
    planar = ctx.format.name == "fltp"  # most do (AAC, MP3, Opus, Vorbis): no resampler, no check a frame
    waiting = True
    for packet in packets:
        frames = ctx.decode(packet)
        if waiting and frames and frames[0].pts is not None and frames[0].time_base:
            out.start(float(frames[0].pts * frames[0].time_base))
            waiting = False
        for frame in frames:
            if planar:
                out.put(frame.to_ndarray())  # out.put: the sink's own once the priming is dropped
            else:
                for f in resampler.resample(frame):
                    out.put(f.to_ndarray())
    if not planar:
        for f in resampler.resample(None):
            out.put(f.to_ndarray())


def _skip_all_but(container: Any, stream: Any) -> None:
    """Have the demuxer skip the other streams' packets (a picture's are not even read from the file):
    the sound's demux of a minute of 1080p MP4 took 9 ms instead of 11."""
    try:
        from av.stream import Discard
    except ImportError:  # PyAV releases without it: the packets are read and dropped
        return
    for other in container.streams:
        if other.index != stream.index:
            other.discard = Discard.all


def _expected_samples(container: Any, stream: Any) -> int:
    """The stream's length in samples as its headers claim it (capped), plus a second; 0 if unknown."""
    if stream.duration and stream.time_base:
        seconds = float(stream.duration * stream.time_base)
    else:
        seconds = (container.duration or 0) / 1_000_000
    return int((min(max(seconds, 0.0), _EXPECTED_CAP_S) + 1.0) * stream.rate) if seconds else 0


#: (frames, first timestamp, end timestamp, every timestamp) of a picture's packets, in its time base
_Timing = tuple[int, int | None, int, list[int]]


def _video_timing(path: str) -> _Timing:
    """The first video stream's packets' timing: demuxed, not decoded."""
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


def _indexed_timing(stream: Any) -> _Timing | None:
    """The same from the demuxer's index, for a constant frame rate where it holds every packet
    (``SAMPLE_TABLED``); ``None`` otherwise. Its timestamps are decode times, evenly spaced as the
    presentation times are, over the same span (B-frame reordering moves frames inside it); tests hold
    it to ``_video_timing``, and the fall-back to a variable rate."""
    entries = getattr(stream, "index_entries", None)  # (PyAV releases without it: demuxed instead)
    if entries is None or not stream.frames or len(entries) != stream.frames:
        return None
    times = sorted(e.timestamp for e in entries if e.size > 0)
    steps = np.diff(times)
    if not steps.size or np.any(steps != steps[0]):
        return None  # a variable frame rate: the last frame's own duration is in its packet only
    return len(times), times[0], times[-1] + int(steps[0]), times


def _fill_video(dec: Decoded, timing: _Timing, fmt: str, time_base: Any) -> None:
    """The video's frame count, length and (for frame-indexed containers) fps, from its packets' timing."""
    frames, first, end, pts = timing
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


def _demux_and_fill(dec: Decoded, path: str, fmt: str, time_base: Any) -> None:
    _fill_video(dec, _video_timing(path), fmt, time_base)


def decode(
    path: str | os.PathLike[str], *, video_later: bool = False, sink: SinkFactory = _Collect
) -> Decoded:
    """Decode ``path``'s first audio stream and time its first video stream (demuxed, not decoded);
    raises ``av.error.FFmpegError`` if unreadable. ``video_later``: the video's frame count, length
    and fps are filled in by ``Decoded.finish_video()``. ``sink`` receives the samples as they are
    decoded (e.g. to filter them meanwhile on another thread); its ``close`` gives ``audio``."""
    import av

    with av.open(os.fspath(path)) as container:
        astream = container.streams.audio[0] if container.streams.audio else None
        vstream = container.streams.video[0] if container.streams.video else None
        audio = None
        if astream is not None:
            _skip_all_but(container, astream)
            channels = astream.codec_context.layout.nb_channels
            layout = astream.codec_context.layout.name
            resampler = av.AudioResampler(format="fltp", layout=layout, rate=astream.rate)
            out = sink(channels, int(astream.rate), _expected_samples(container, astream))
            try:
                presented = _Presented(out, astream.rate)
                _decode_run(astream.codec_context, container.demux(astream), resampler, presented)
            finally:
                planar = out.close()  # channel-major: every per-channel pass then reads contiguously
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
            fmt, time_base = container.format.name, vstream.time_base
            indexed = _indexed_timing(vstream) if fmt in SAMPLE_TABLED else None
            if indexed is not None:
                _fill_video(decoded, indexed, fmt, time_base)
            else:
                # the picture's packets on a demuxer of their own, after the sound: counting them on a
                # second thread beside the decode made both slower (their GIL hand-offs: 77 ms against
                # 66 for an MP4); beside the numpy analysis that follows it costs little. (A partial,
                # not a closure over ``decoded``: a cycle would keep the samples until a GC pass)
                decoded._video = partial(_demux_and_fill, path=os.fspath(path), fmt=fmt, time_base=time_base)
                if not video_later:
                    decoded.finish_video()
        return decoded
