"""The agent's rule-based understanding, English and Chinese."""

from __future__ import annotations

import pytest

from nemo_local.agent.understand import understand


def _ops(text: str, has_music: bool = True, has_video: bool = False) -> list[dict[str, object]]:
    return [op.as_args() for op in understand(text, has_music, has_video).ops]


@pytest.mark.parametrize(
    "text",
    [
        "generate a calm lo-fi track, 8-second",
        "calm lo-fi for a 2-minute product video",
        "生成一段30秒的舒缓钢琴音乐",
        "upbeat jazz at 120 bpm",
    ],
)
def test_generate_requests_without_music(text: str) -> None:
    got = understand(text, has_music=False, has_video=False)
    assert got.kind == "generate" and got.replace is False


@pytest.mark.parametrize(
    "text", ["replace the track with upbeat jazz", "give me a different track", "换一首欢快的"]
)
def test_replace_requests(text: str) -> None:
    got = understand(text, has_music=True, has_video=False)
    assert got.kind == "generate" and got.replace is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lower the music to 35%", [{"op": "volume", "value": 0.35}]),
        ("把音乐音量调到35%", [{"op": "volume", "value": 0.35}]),
        ("mute the music", [{"op": "volume", "value": 0.0}]),
        (
            "fade in 2s and fade out 3 seconds",
            [{"op": "fade_in", "value": 2.0}, {"op": "fade_out", "value": 3.0}],
        ),
        ("淡入2秒，淡出3秒", [{"op": "fade_in", "value": 2.0}, {"op": "fade_out", "value": 3.0}]),
        ("fade in and out 1.5 seconds", [{"op": "fade_in", "value": 1.5}, {"op": "fade_out", "value": 1.5}]),
        ('add a title "Urban Dreams" for 3 seconds', [{"op": "title", "value": 3.0, "text": "Urban Dreams"}]),
        ("添加标题“城市之梦”4秒", [{"op": "title", "value": 4.0, "text": "城市之梦"}]),
        ("make it calmer", [{"op": "energy", "value": -1}]),
        ("更欢快一点", [{"op": "energy", "value": 1}]),
        ("more upbeat please", [{"op": "energy", "value": 1}]),
        ("change the length to 45 seconds", [{"op": "length", "value": 45.0}]),
        ("make it 2 minutes", [{"op": "length", "value": 120.0}]),
        ("改成四十五秒", [{"op": "length", "value": 45.0}]),
        ("make it two minutes", [{"op": "length", "value": 120.0}]),
        ("set the length to a minute and a half", [{"op": "length", "value": 90.0}]),
        ("I want it 30 seconds long", [{"op": "length", "value": 30.0}]),
        ('add a title "Hi" for two seconds', [{"op": "title", "value": 2.0, "text": "Hi"}]),
        ("fade out over half a minute", [{"op": "fade_out", "value": 30.0}]),
    ],
)
def test_edits(text: str, expected: list[dict[str, object]]) -> None:
    assert _ops(text) == expected


def test_fit_to_video_needs_a_video() -> None:
    assert _ops("fit the music to the video length", has_video=True) == [{"op": "fit_video"}]
    assert understand("fit the music to the video", True, False).topic == "no_video"


def test_music_edits_without_music_are_explained_not_charged() -> None:
    got = understand("lower the volume to 20%", has_music=False, has_video=False)
    assert got.kind == "chat" and got.topic == "no_music"


def test_titles_work_without_music() -> None:
    got = understand("add a title 'Hello' for 2 seconds", has_music=False, has_video=False)
    assert got.kind == "edit" and got.ops[0].text == "Hello"


def test_chat_topics() -> None:
    assert understand("hello there", False, False).topic == "help"
    assert understand("export it", True, False).topic == "export"
    assert understand("show tracks", True, False).topic == "status"
    assert understand("你好", False, False).zh is True
