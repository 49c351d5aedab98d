"""Titles are told apart by their position, not their id: two title tracks both default to `text0`, and a
client may type the same id twice; each title must still be drawn with its own text."""

from __future__ import annotations

import pytest

from nemo_local.renderer.stills import plan_scenes
from nemo_local.renderer.timeline import parse_draft
from nemo_local.renderer.visuals import TitleOverlays


def test_two_title_tracks_with_the_same_default_id_stay_two_titles(monkeypatch: pytest.MonkeyPatch) -> None:
    draft = {
        "t": [
            {"tt": 7, "sg": [{"s": 0, "d": 3000, "txt": "A"}]},
            {"tt": 7, "sg": [{"s": 1000, "d": 1000, "txt": "B"}]},
        ],
        "d": 3000,
    }
    timeline = parse_draft(draft)
    assert [s.id for s in timeline.text] == ["text0", "text0"], "the case this pins: ids collide"
    scenes = plan_scenes(timeline, lambda _t: "base")
    keys = [scene.key[1] for scene in scenes]
    assert keys == [("0",), ("0", "1"), ("0",)]
    import nemo_local.renderer.visuals as visuals

    drawn: list[str] = []
    real = visuals.title_overlay
    monkeypatch.setattr(
        visuals, "title_overlay", lambda seg, w, h: (drawn.append(seg.text), real(seg, w, h))[1]
    )
    overlays = TitleOverlays(timeline.text, 320, 180, lambda: None)
    for ids in keys:
        overlays.visible(ids)
    assert drawn == ["A", "B"]
