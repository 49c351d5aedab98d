"""Decoding helpers for renderer tests (what a viewer would see and hear)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import av
import numpy as np


def frame_at(path: Path, t: float) -> np.ndarray:
    """RGB frame shown at ``t`` seconds (the last frame whose time is <= t)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        chosen = None
        for frame in container.decode(stream):
            if frame.time is not None and frame.time > t + 1e-3:
                break
            chosen = frame
        assert chosen is not None
        return chosen.to_ndarray(format="rgb24")


def decoded_audio(path: Path) -> np.ndarray:
    """All audio as (n, channels) float32."""
    chunks: list[np.ndarray] = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        for frame in container.decode(stream):
            arr = frame.to_ndarray()
            if not frame.format.is_planar:  # packed: one row of interleaved samples
                arr = arr.reshape(-1, len(frame.layout.channels)).T
            chunks.append(arr)
    data = np.concatenate(chunks, axis=1) if chunks else np.zeros((2, 0))
    if data.dtype.kind == "i":
        data = data / 32768.0
    return data.T.astype(np.float32)


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that declares width x height but holds one row of data: what a hostile upload looks like."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * (1 + 3 * width))) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path
