"""The finished track: samples, metadata, and writers (WAV natively; MP3/FLAC/OGG/M4A through ffmpeg)."""

from __future__ import annotations

import os
import subprocess
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nemo_local.composer.plan import MusicPlan

_FFMPEG_AUDIO = {
    ".mp3": ["-c:a", "libmp3lame", "-b:a", "192k"],
    ".flac": ["-c:a", "flac"],
    ".ogg": ["-c:a", "libopus", "-b:a", "160k"],
    ".opus": ["-c:a", "libopus", "-b:a", "160k"],
    ".m4a": ["-c:a", "aac", "-b:a", "192k"],
}
SUPPORTED_EXTENSIONS = (".wav", ".mid", *_FFMPEG_AUDIO)


def pcm16(samples: np.ndarray) -> bytes:
    """Interleaved little-endian 16-bit PCM (rounded, clipped)."""
    scaled = np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2")
    return scaled.tobytes()


def write_wav(path: str | os.PathLike[str], samples: np.ndarray, sample_rate: int) -> None:
    with wave.open(os.fspath(path), "wb") as fh:
        fh.setnchannels(samples.shape[1])
        fh.setsampwidth(2)
        fh.setframerate(sample_rate)
        fh.writeframes(pcm16(samples))


def encode_with_ffmpeg(
    path: str | os.PathLike[str], samples: np.ndarray, sample_rate: int, codec_args: list[str]
) -> None:
    """Pipe float samples into ffmpeg; raises RuntimeError with ffmpeg's last words on failure."""
    from nemo_local.media import ffmpeg_exe

    cmd = [
        ffmpeg_exe(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "f32le",
        "-ar",
        str(sample_rate),
        "-ac",
        str(samples.shape[1]),
        "-i",
        "pipe:0",
        *codec_args,
        os.fspath(path),
    ]
    proc = subprocess.run(
        cmd, input=np.ascontiguousarray(samples, dtype="<f4").tobytes(), capture_output=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"ffmpeg could not write {Path(path).name}: {proc.stderr.decode(errors='replace')[-400:]}"
        )


@dataclass
class ComposedTrack:
    """A mastered stereo track and what it is."""

    samples: np.ndarray  # float32, shape (n, 2)
    sample_rate: int
    plan: MusicPlan
    metadata: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    midi: Any = None  # the pretty_midi.PrettyMIDI the audio was synthesized from

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write by extension: .wav (16-bit PCM), .mp3, .flac, .ogg/.opus, .m4a, or .mid (the notes)."""
        out = Path(path)
        ext = out.suffix.lower()
        out.parent.mkdir(parents=True, exist_ok=True)
        if ext == ".wav":
            write_wav(out, self.samples, self.sample_rate)
        elif ext == ".mid":
            if self.midi is None:
                raise ValueError("this track has no MIDI arrangement attached")
            self.midi.write(os.fspath(out))
        elif ext in _FFMPEG_AUDIO:
            encode_with_ffmpeg(out, self.samples, self.sample_rate, _FFMPEG_AUDIO[ext])
        else:
            raise ValueError(
                f"unsupported audio extension {ext!r}; use one of {', '.join(SUPPORTED_EXTENSIONS)}"
            )
        return out

    def write_cover(self, path: str | os.PathLike[str], size: tuple[int, int] = (1024, 1024)) -> Path:
        """PNG cover with the title and the track's waveform."""
        from nemo_local.composer.cover import render_cover

        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        render_cover(self.samples, self.metadata, out, size=size)
        return out
