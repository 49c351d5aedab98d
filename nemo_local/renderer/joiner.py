"""Join encoded video segments, each repeated as often as the timeline needs, with an encoded audio
stream into the export, packet by packet in-process (PyAV).

Why not ffmpeg's concat demuxer: each concat entry costs ~6 ms to open, so a minute of still picture in
1 s units needed a second join pass of 10 s blocks first, and the final ``-c copy`` mux was another
ffmpeg start (together ~0.5 s of a 1 s export). Here every distinct segment is read once, its packets
are written again with shifted timestamps, interleaved with the audio packets by time: tens of ms.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av

from nemo_local.renderer.errors import RenderError
from nemo_local.renderer.formats import FASTSTART_MUXERS, Format

_Packets = tuple[Fraction, list[tuple[av.Packet, int, int, int]]]  # time base, (packet, pts, dts, duration)


def _read(src: av.container.InputContainer) -> _Packets:
    stream = src.streams.video[0]
    base = Fraction(stream.time_base or Fraction(1, 1))
    kept = []
    for packet in src.demux(stream):
        if packet.size == 0 or packet.pts is None:
            continue
        dts = packet.dts if packet.dts is not None else packet.pts
        kept.append((packet, packet.pts, dts, packet.duration or 0))
    return base, kept


def join(
    entries: Sequence[tuple[Path, int]],
    fps: int,
    audio: Path,
    out_path: Path,
    fmt: Format,
    duration: float,
    check_cancel: Callable[[], None] = lambda: None,
) -> None:
    """Write ``out_path``: the video of ``entries`` — (segment file, its frame count) in order, a file
    usually repeated — followed without gaps at ``fps``, and the first audio stream of ``audio`` up to
    ``duration`` seconds. Segments must share codec parameters (they come from one encoder setting).
    ``check_cancel`` is called every few thousand packets (an hour's export is ~250 000 of them)."""
    cache: dict[Path, _Packets] = {}
    # the audio's first packet may start before 0 (the AAC encoder's priming samples): keep its timestamps,
    # as ffmpeg's stream copy does, rather than let the muxer shift every stream (video would start late)
    options = {"avoid_negative_ts": "disabled"}
    if fmt.muxer in FASTSTART_MUXERS:
        options["movflags"] = "+faststart"
    try:
        with (
            av.open(str(audio)) as audio_in,
            av.open(str(entries[0][0])) as first,
            av.open(str(out_path), "w", format=fmt.muxer, options=options) as dst,
        ):
            video_out = dst.add_stream_from_template(first.streams.video[0])
            cache[entries[0][0]] = _read(first)
            audio_src = audio_in.streams.audio[0]
            audio_out = dst.add_stream_from_template(audio_src)

            def video() -> Iterator[tuple[float, int, av.Packet]]:
                frames = 0
                for path, count in entries:
                    if path not in cache:
                        with av.open(str(path)) as src:
                            cache[path] = _read(src)
                    base, packets = cache[path]
                    shift = round(Fraction(frames, fps) / base)
                    seconds = float(base)  # float times only order the interleaving (Fractions cost ~10 us)
                    for packet, pts, dts, length in packets:
                        # muxing rebases a packet to the output's time base: set it afresh on each use
                        packet.time_base = base
                        packet.pts, packet.dts, packet.duration = pts + shift, dts + shift, length
                        yield (dts + shift) * seconds, 0, packet
                    frames += count

            def sound() -> Iterator[tuple[float, int, av.Packet]]:
                seconds = float(audio_src.time_base or 1)
                for packet in audio_in.demux(audio_src):
                    if packet.size == 0 or packet.pts is None:
                        continue
                    if packet.pts * seconds >= duration:  # as ffmpeg's -t: nothing that starts past the end
                        break
                    yield (packet.dts if packet.dts is not None else packet.pts) * seconds, 1, packet

            merged = heapq.merge(video(), sound(), key=lambda item: (item[0], item[1]))
            for count, (_, kind, packet) in enumerate(merged):
                if count % 4096 == 0:
                    check_cancel()
                packet.stream = video_out if kind == 0 else audio_out
                dst.mux(packet)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise RenderError(f"joining the video segments failed: {exc}") from exc
