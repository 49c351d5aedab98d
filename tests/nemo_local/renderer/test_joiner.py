"""The still path's pieces: segments repeated by packet copy with the audio (joiner), and the mix fed to
a running encoder from a thread (StdinFeed)."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
from pathlib import Path

import av
import pytest

from nemo_local.media import ffmpeg_exe
from nemo_local.renderer import joiner
from nemo_local.renderer.errors import RenderError
from nemo_local.renderer.formats import get_format
from nemo_local.renderer.runner import Proc, StdinFeed


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("joiner")
    x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-pix_fmt", "yuv420p"]
    made = {}
    for ext in ("mp4", "avi"):
        for name, colour, frames in (("unit", "red", 30), ("rest", "blue", 7)):
            out = root / f"{name}.{ext}"
            _ffmpeg(
                "-f",
                "lavfi",
                "-i",
                f"color=c={colour}:s=320x240:r=30",
                "-frames:v",
                str(frames),
                *x264,
                "-g",
                str(frames),
                str(out),
            )
            made[f"{name}.{ext}"] = out
    for ext, codec in (("m4a", "aac"), ("mp3", "libmp3lame")):
        made[ext] = root / f"audio.{ext}"
        _ffmpeg("-f", "lavfi", "-i", "sine=f=440:d=2.3", "-ac", "2", "-c:a", codec, str(made[ext]))
    return made  # fmt: skip


@pytest.mark.parametrize(
    ("fmt", "ext", "audio"), [("mp4", "mp4", "m4a"), ("mkv", "mp4", "m4a"), ("avi", "avi", "mp3")]
)
def test_repeated_segments_play_frame_exactly_from_zero(
    tmp_path: Path, parts: dict[str, Path], fmt: str, ext: str, audio: str
) -> None:
    unit, rest = parts[f"unit.{ext}"], parts[f"rest.{ext}"]
    out = tmp_path / f"out.{ext}"
    joiner.join([(unit, 30), (unit, 30), (rest, 7)], 30, parts[audio], out, get_format(fmt), 67 / 30)
    errors = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(out), "-f", "null", "-"], capture_output=True, text=True
    ).stderr
    assert errors.strip() == ""
    with av.open(str(out)) as container:
        frames = [(f.time, f.to_ndarray(format="rgb24")[120, 160]) for f in container.decode(video=0)]
    assert len(frames) == 67
    times = [t for t, _ in frames]
    # video starts at once, not shifted after the audio's priming samples (23 ms); AVI's demuxer shows
    # the first H.264 frame one tick late whoever wrote the file
    late = 1 / 30 + 1e-3 if fmt == "avi" else 0.005
    assert times[0] is not None and abs(times[0]) <= late
    assert all(b > a for a, b in itertools.pairwise(times))
    assert frames[59][1][0] > 200 and frames[60][1][2] > 200  # the red unit twice, then the blue rest
    with av.open(str(out)) as container:
        assert container.streams.audio, "the audio is muxed in"
        assert sum(f.samples for f in container.decode(audio=0)) > 2.0 * 44100  # resampled formats aside


def test_unreadable_segment_is_a_render_error(tmp_path: Path, parts: dict[str, Path]) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(RenderError, match="joining"):
        joiner.join([(bad, 30)], 30, parts["m4a"], tmp_path / "o.mp4", get_format("mp4"), 1.0)


def _reader(code: str) -> Proc:
    """A child that reads stdin as an encoder would (the feed needs only a Proc with a stdin pipe)."""
    popen = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    return Proc("reader", popen)


def test_feed_hands_every_chunk_over_and_closes_stdin() -> None:
    proc = _reader("import sys; print(len(sys.stdin.buffer.read()))")
    with StdinFeed(proc, ahead=2) as feed:
        for _ in range(50):
            feed.put(b"x" * 100_000)
    assert proc.popen.stdout is not None
    out = proc.popen.stdout.read()  # not communicate(): it would close stdin under the writer
    assert int(out) == 5_000_000
    assert proc.popen.wait(timeout=30) == 0
    proc.popen.stdout.close()


def test_feed_does_not_block_on_a_reader_that_died_or_on_an_error() -> None:
    proc = _reader("import sys; sys.stdin.buffer.read(10); sys.exit(3)")
    done = threading.Event()

    def produce() -> None:
        with StdinFeed(proc, ahead=2) as feed:
            for _ in range(200):
                feed.put(b"x" * 100_000)
        done.set()

    worker = threading.Thread(target=produce, daemon=True)
    worker.start()
    assert done.wait(30), "put() blocked on a reader that stopped reading"
    assert proc.popen.wait(timeout=30) == 3
    assert proc.popen.stdout is not None
    proc.popen.stdout.close()
    # leaving by an exception drops what is queued and still closes stdin
    alive = _reader("import sys; print(len(sys.stdin.buffer.read()))")
    with pytest.raises(RuntimeError), StdinFeed(alive, ahead=4) as feed:
        feed.put(b"y" * 10)
        raise RuntimeError("cancelled")
    assert alive.popen.stdout is not None
    assert int(alive.popen.stdout.read()) <= 10  # ends: stdin was closed
    assert alive.popen.wait(timeout=30) == 0
    alive.popen.stdout.close()
