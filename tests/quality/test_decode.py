"""decode(): the picture's timing from the MP4/MOV sample tables' index is what demuxing its packets
gives; where the index cannot time it, the packets are demuxed."""

from __future__ import annotations

from pathlib import Path

import pytest

from nemo_provider.quality import decode as decoding

from .conftest import ffmpeg

SECONDS = 4.0


@pytest.fixture(scope="module")
def music(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nemo_local.composer import compose

    track = compose("energetic electronic at 128 bpm", duration_s=SECONDS, seed=3)
    return track.write(tmp_path_factory.mktemp("decode") / "music.wav")


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("cfr.mp4", ["-r", "30", "-c:v", "libx264", "-bf", "0"]),
        ("bframes.mp4", ["-r", "25", "-c:v", "libx264", "-bf", "3"]),  # decode order is not display order
        ("bframes.mov", ["-r", "24", "-c:v", "libx264", "-bf", "2"]),
        ("late.mp4", ["-vf", "setpts=PTS+0.5/TB", "-c:v", "libx264"]),  # the picture starts at 0.5 s
    ],
)
def test_the_sample_tables_index_times_the_picture_as_its_packets_do(
    name: str, args: list[str], music: Path, tmp_path: Path
) -> None:
    """MP4/MOV: the picture's frames and length read from the demuxer's index are what demuxing every
    packet gives (so the faster path changes no A/V verdict)."""
    import av

    path = tmp_path / name
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-i", str(music), "-t", "3",
           *args, "-c:a", "aac", "-shortest", str(path))  # fmt: skip
    with av.open(str(path)) as container:
        assert container.format.name in decoding.SAMPLE_TABLED
        stream = container.streams.video[0]
        indexed = decoding._indexed_timing(stream)
        time_base = stream.time_base
    assert indexed is not None, "the index did not hold every packet"
    demuxed = decoding._video_timing(str(path))
    assert indexed[0] == demuxed[0]
    assert (indexed[2] - indexed[1]) * time_base == (demuxed[2] - (demuxed[1] or 0)) * time_base
    dec = decoding.decode(path)
    assert dec.video_frames == demuxed[0] and dec.video_duration_s == pytest.approx(
        float((demuxed[2] - (demuxed[1] or 0)) * time_base), abs=1e-9
    )


VFR = "setpts='if(lt(N,20),N*1000,N*1000+400*(N-20))/TB/30000'"  # frames 1/30 s apart, then 1/21 s


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("cues.mkv", []),  # Matroska's cues index keyframes only
        ("vfr.mp4", ["-vf", VFR, "-fps_mode", "vfr"]),  # a variable rate: the index lacks the last duration
    ],
)
def test_a_picture_the_index_cannot_time_is_demuxed(
    name: str, args: list[str], music: Path, tmp_path: Path
) -> None:
    import av

    path = tmp_path / name
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-i", str(music), "-t", "3",
           *args, "-c:v", "libx264", "-c:a", "aac", "-shortest", str(path))  # fmt: skip
    with av.open(str(path)) as container:
        assert decoding._indexed_timing(container.streams.video[0]) is None
        time_base = container.streams.video[0].time_base
    dec = decoding.decode(path, video_later=True)
    assert dec.video_frames == 0  # left to finish_video(), which demuxes
    dec.finish_video()
    frames, first, end, _ = decoding._video_timing(str(path))
    assert dec.video_frames == frames > 50
    assert dec.video_duration_s == pytest.approx(float((end - (first or 0)) * time_base), abs=1e-9)
