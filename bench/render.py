"""Benchmark: exports through nemo_local's renderer against plain ffmpeg, measured in the same run.

1. A 60 s 1920x1080 MP4 of a generated track with its cover picture and a title: target <= 4 s, printed
   beside the naive ``ffmpeg -loop 1 -i cover.png -i music.wav -tune stillimage`` encode of the same picture
   and audio (every frame encoded).
2. An uploaded 60 s 1080p clip with the music mixed in: target <= 1.2x a bare ffmpeg re-encode of the clip.

Both baselines use the same x264 preset/CRF and AAC settings as the renderer's "high" quality, so the
ratio measures the pipeline, not different encoder settings. Setup (composing, making the test clip) is
not timed.

    python bench/render.py [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from nemo_local.composer import compose
from nemo_local.media import ffmpeg_exe, probe
from nemo_local.renderer import render_draft
from nemo_local.renderer.formats import audio_codec_args, get_quality, video_codec_args

STILL_TARGET_S = 4.0
CLIP_TARGET_RATIO = 1.2


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def _cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(fastest wall-clock time, CPU seconds of that run incl. ffmpeg children) over ``repeat`` runs."""
    best = (float("inf"), 0.0)
    for _ in range(repeat):
        c0, t0 = _cpu(), time.perf_counter()
        fn()
        wall, cpu = time.perf_counter() - t0, _cpu() - c0
        best = min(best, (wall, cpu))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--keep", action="store_true", help="keep the rendered files")
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement (fastest counts)")
    args = parser.parse_args()
    seconds = args.seconds
    ms = int(seconds * 1000)
    quality = get_quality("high")
    work = Path(tempfile.mkdtemp(prefix="bench-render-"))

    track = compose("upbeat corporate", duration_s=seconds, seed=7)
    music = track.write(work / "music.wav")
    cover = track.write_cover(work / "cover.png", size=(1920, 1080))
    media = {"nemo://music": music, "nemo://cover": cover}

    # 1. still picture + music
    naive, naive_cpu = _timed(
        lambda: _ffmpeg(
            *("-loop", "1", "-framerate", "30", "-i", str(cover), "-i", str(music)),
            *video_codec_args("h264", quality, still=True),
            *audio_codec_args("aac", quality),
            *("-t", f"{seconds}", str(work / "naive.mp4")),
        ),
        1,  # ~30-60 s: once is enough to show the order of magnitude
    )
    draft = {
        "t": [
            {"tt": 0, "sg": [{"id": "cover", "s": 0, "d": ms, "src": "nemo://cover"}]},
            {"tt": 1, "sg": [{"id": "bgm", "s": 0, "d": ms, "src": "nemo://music", "v": 1.0, "fo": 2000}]},
            {"tt": 7, "sg": [{"id": "title", "s": 0, "d": 5000, "txt": track.metadata["title"]}]},
        ],
        "d": ms,
        "m": {"title": track.metadata["title"], "width": 1920, "height": 1080},
    }
    still, still_cpu = _timed(
        lambda: render_draft(
            draft, work / "still.mp4", fmt="mp4", quality="high", resolve_media=media.__getitem__
        ),
        args.repeat,
    )
    out = render_draft(draft, work / "still.mp4", fmt="mp4", quality="high", resolve_media=media.__getitem__)
    info = probe(out.path)
    print(
        f"still: renderer {still:.2f} s (CPU {still_cpu:.2f} s) vs naive -loop 1 encode {naive:.2f} s "
        f"(CPU {naive_cpu:.2f} s), {naive / still:.1f}x faster; "
        f"{info.width}x{info.height} {info.video_codec}/{info.audio_codec} {info.duration:.3f} s, {out.size / 1e6:.1f} MB"
    )

    # 2. uploaded clip + music mixed in
    clip = work / "clip.mp4"
    _ffmpeg(
        *("-f", "lavfi", "-i", f"testsrc2=s=1920x1080:r=30:d={seconds}"),
        *("-f", "lavfi", "-i", f"sine=f=330:d={seconds}"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-c:a", "aac", "-shortest", str(clip)),
    )
    media["nemo://clip"] = clip

    def bare_encode() -> None:
        _ffmpeg(
            *("-i", str(clip)),
            *video_codec_args("h264", quality, gop=60),
            *audio_codec_args("aac", quality),
            str(work / "bare.mp4"),
        )

    clip_draft = {
        "t": [
            {"tt": 0, "sg": [{"id": "clip", "s": 0, "d": ms, "src": "nemo://clip", "v": 0.4}]},
            {
                "tt": 1,
                "sg": [
                    {"id": "bgm", "s": 0, "d": ms, "src": "nemo://music", "v": 0.8, "fi": 1000, "fo": 2000}
                ],
            },
        ],
        "d": ms,
        "m": {"title": "clip", "width": 1920, "height": 1080},
    }

    def ours() -> None:
        render_draft(
            clip_draft, work / "clip_out.mp4", fmt="mp4", quality="high", resolve_media=media.__getitem__
        )

    # interleaved, so a change in the machine's load hits both sides alike
    bare, bare_cpu, mixed, mixed_cpu = float("inf"), 0.0, float("inf"), 0.0
    for _ in range(args.repeat):
        bare, bare_cpu = min((bare, bare_cpu), _timed(bare_encode, 1))
        mixed, mixed_cpu = min((mixed, mixed_cpu), _timed(ours, 1))
    info = probe(work / "clip_out.mp4")
    print(
        f"clip: renderer {mixed:.2f} s (CPU {mixed_cpu:.2f} s) vs bare re-encode {bare:.2f} s (CPU {bare_cpu:.2f} s),"
        f" {mixed / bare:.2f}x; "
        f"{info.width}x{info.height} {info.video_codec}/{info.audio_codec} {info.duration:.3f} s"
    )
    print(f"load average during the run: {os.getloadavg()[0]:.2f} (2 cores)")
    if args.keep:
        print(f"files kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(
        json.dumps(
            {
                "bench": f"render_{seconds:g}s_still_mp4",
                "value": round(still, 3),
                "unit": "s",
                "target": STILL_TARGET_S,
                "baseline": round(naive, 3),
                "ratio": round(still / naive, 4),
                "ok": still <= STILL_TARGET_S,
            }
        )
    )
    print(
        json.dumps(
            {
                "bench": f"render_{seconds:g}s_clip_with_music_mp4",
                "value": round(mixed, 3),
                "unit": "s",
                "target": round(CLIP_TARGET_RATIO * bare, 3),
                "baseline": round(bare, 3),
                "ratio": round(mixed / bare, 4),
                "ok": mixed <= CLIP_TARGET_RATIO * bare,
            }
        )
    )


if __name__ == "__main__":
    main()
