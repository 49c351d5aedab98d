"""Draft edits keep the contract's short keys, keep unknown keys, and summarise in one line."""

from __future__ import annotations

from nemo_local.agent import drafts


def test_music_volume_fades_title_and_summary() -> None:
    draft = drafts.empty_draft("demo")
    draft["x_client_key"] = {"kept": True}
    draft = drafts.set_music(draft, "http://h/files/a/t.wav", 8000, {"title": "Lo-fi"})
    draft = drafts.set_volume(draft, volume=0.35)
    draft = drafts.set_fade(draft, "fo", 2000)
    draft = drafts.add_title(draft, "Urban Dreams", 3000)
    assert draft["x_client_key"] == {"kept": True}
    assert draft["d"] == 8000
    music = drafts.music_segment(draft)
    assert music is not None and music["v"] == 0.35 and music["fo"] == 2000 and music["src"].endswith("t.wav")
    assert (
        drafts.summary(draft)
        == 'Timeline (2 tracks): 1. BGM: Lo-fi (0-8s, 35%) 2. Title: "Urban Dreams" (0-3s)'
    )


def test_replacing_music_keeps_volume_and_clamps_fades() -> None:
    draft = drafts.set_music(drafts.empty_draft(), "u1", 8000, {"title": "A"})
    draft = drafts.set_fade(drafts.set_volume(draft, volume=0.5), "fi", 6000)
    draft = drafts.set_music(draft, "u2", 4000, {"title": "B"})
    (track,) = drafts.tracks(draft, drafts.AUDIO)
    (seg,) = track["sg"]
    assert seg["src"] == "u2" and seg["v"] == 0.5 and seg["fi"] == 4000 and draft["d"] == 4000


def test_first_portrait_video_sets_the_canvas() -> None:
    draft = drafts.add_visual(
        drafts.empty_draft(), "v1", 2000, {"name": "a.mp4", "width": 720, "height": 1280}
    )
    draft = drafts.add_visual(draft, "v2", 1000, {"name": "b.mp4", "width": 1920, "height": 1080})
    assert (draft["m"]["width"], draft["m"]["height"]) == (1080, 1920)
    assert [s["s"] for s in drafts.tracks(draft, drafts.VIDEO)[0]["sg"]] == [0, 2000]
    assert drafts.video_length_ms(draft) == 3000
