"""nemo_local's own exports of every format the client offers pass the gate: real render_draft output
(the engine's codecs and containers, not a test encode), checked on streams, codecs and length."""

from __future__ import annotations

from pathlib import Path

import pytest

from nemo_provider.client.constants import EXPORT_FORMATS
from nemo_provider.quality import check, measure
from nemo_provider.quality.formats import AUDIO_ONLY

SECONDS = 4.0


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from nemo_local.composer import compose

    folder = tmp_path_factory.mktemp("engine-formats")
    track = compose("upbeat corporate track for a product explainer", duration_s=SECONDS, seed=4)
    return {
        "nemo://music": track.write(folder / "music.wav"),
        "nemo://cover": track.write_cover(folder / "cover.png", size=(640, 360)),
    }


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_nemo_local_exports_pass_the_gate_in_every_format(fmt: str, media, tmp_path: Path) -> None:
    from nemo_local.renderer import render_draft

    ms = int(SECONDS * 1000)
    tracks: list[dict] = []
    if fmt != "gif":
        tracks.append({"tt": 1, "sg": [{"id": "bgm", "s": 0, "d": ms, "src": "nemo://music", "v": 1.0}]})
    if fmt not in AUDIO_ONLY:
        tracks.insert(0, {"tt": 0, "sg": [{"id": "cover", "s": 0, "d": ms, "src": "nemo://cover"}]})
    draft = {"t": tracks, "d": ms, "m": {"title": "formats", "width": 640, "height": 360}}
    out = tmp_path / f"export.{fmt}"
    render_draft(draft, out, fmt=fmt, quality="medium", resolve_media=media.__getitem__)
    report = measure(out, music=False)
    result = check(report, {"format": fmt, "duration_s": SECONDS})
    assert result.passed, f"{fmt}: {result.summary()}"
    codecs = {o.name for o in result.outcomes if o.judged}
    if fmt in AUDIO_ONLY:
        assert report.video is None and "audio_codec" in codecs
    else:
        assert report.video is not None and (report.video.width, report.video.height) == (640, 360)
        assert "video_codec" in codecs
    if fmt not in AUDIO_ONLY and fmt != "gif":
        sync = next(o for o in result.outcomes if o.name == "av_sync_s")  # ± 40 ms; AVI's MP3: + 2 frames
        assert sync.judged and sync.passed and abs(report.av_offset_s) <= 0.040 + 2 * report.audio.frame_s
