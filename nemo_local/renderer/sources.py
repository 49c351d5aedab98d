"""Audio sources for the mix, decoded as a stream of stereo float32 chunks at the mix's rate.

Plain 16-bit WAVs at 44.1 kHz (the composer's tracks) are read straight from their samples; anything else
goes through PyAV. Both yield the same values (a test holds them together), so the mix never knows which.
"""

from __future__ import annotations

import threading
import wave
from collections.abc import Generator
from pathlib import Path

import av
import numpy as np

from nemo_local.renderer.errors import RenderCancelled, RenderError

SAMPLE_RATE = 44100


def check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise RenderCancelled("render cancelled")


_WAV_CHUNK = SAMPLE_RATE  # frames read at a time from a WAV file


def plain_wav(path: Path) -> bool:
    """Whether ``path`` is a 16-bit PCM WAV at the mix's rate, mono or stereo."""
    if path.suffix.lower() != ".wav":
        return False
    try:
        with wave.open(str(path), "rb") as reader:
            return (reader.getsampwidth(), reader.getframerate()) == (
                2,
                SAMPLE_RATE,
            ) and reader.getnchannels() in (1, 2)
    except (wave.Error, EOFError, OSError):
        return False


def wav_chunks(path: Path, start: float, cancel: threading.Event | None) -> Generator[np.ndarray, None, None]:
    """What :func:`decoded` yields, read straight from a plain WAV's samples: the composer's tracks are
    16-bit WAVs at 44.1 kHz, and this is ~10x quicker than decoding and resampling them through PyAV (a
    minute's mix is on the way to the still picture's cover, which shows its waveform). The values are
    the same: PyAV's s16 -> float conversion is x / 32768 as well."""
    with wave.open(str(path), "rb") as reader:
        channels = reader.getnchannels()
        first = round(start * SAMPLE_RATE)
        if first >= reader.getnframes():
            return
        reader.setpos(first)
        while True:
            check_cancel(cancel)
            raw = reader.readframes(_WAV_CHUNK)
            if not raw:
                return
            data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / np.float32(32768.0)
            data = data.reshape(-1, channels)
            yield np.repeat(data, 2, axis=1) if channels == 1 else data


def decoded(path: Path, start: float, cancel: threading.Event | None) -> Generator[np.ndarray, None, None]:
    """Stereo float32 chunks of ``path`` from ``start`` s to its end, contiguous and aligned so that the
    first sample yielded plays at ``start`` (zeros first if the stream begins later)."""
    if plain_wav(path):
        yield from wav_chunks(path, start, cancel)
        return
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise RenderError(f"cannot read media {path.name!r}: {exc}") from exc
    with container:
        if not container.streams.audio:
            return
        stream = container.streams.audio[0]
        if start > 1.0:
            container.seek(int((start - 0.5) * av.time_base), any_frame=False, backward=True)
        # mono plays at full level on both sides (ffmpeg's default upmix would lower it by 3 dB)
        mono = stream.codec_context.channels == 1
        resampler = av.AudioResampler(format="fltp", layout="mono" if mono else "stereo", rate=SAMPLE_RATE)
        position: float | None = None
        emitted = 0
        try:
            for packet in container.demux(stream):
                check_cancel(cancel)
                for frame in packet.decode():
                    frame_time = (
                        float(frame.pts * frame.time_base)
                        if frame.pts is not None and frame.time_base
                        else None
                    )
                    for res in resampler.resample(frame):
                        data = res.to_ndarray().T.astype(np.float32)  # (n, channels)
                        if mono:
                            data = np.repeat(data, 2, axis=1)
                        if position is None:
                            position = frame_time if frame_time is not None else 0.0
                        offset = round((position - start) * SAMPLE_RATE)
                        position += len(data) / SAMPLE_RATE
                        if offset > emitted:
                            yield np.zeros((offset - emitted, 2), dtype=np.float32)
                            emitted = offset
                        skip = emitted - offset  # samples already covered (before start, or rounding)
                        if skip < len(data):
                            yield data[skip:]
                            emitted += len(data) - skip
        except av.error.FFmpegError as exc:
            raise RenderError(f"cannot decode media {path.name!r}: {exc}") from exc


def decode_audio(
    path: Path, start: float, duration: float, cancel: threading.Event | None = None
) -> np.ndarray:
    """Stereo float32 audio of ``path`` from ``start`` s for up to ``duration`` s (shorter if the file ends)."""
    want = round(duration * SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    have = 0
    gen = decoded(path, start, cancel)
    try:
        for chunk in gen:
            chunks.append(chunk[: want - have])
            have += len(chunks[-1])
            if have >= want:
                break
    finally:
        gen.close()
    return np.concatenate(chunks) if chunks else np.zeros((0, 2), dtype=np.float32)
