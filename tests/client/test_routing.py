"""The skill's routing table (EN + ZH) and the agent's GUI phrases."""

from __future__ import annotations

import pytest

from nemo_provider.client.routing import route, translate_gui


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("Export it as mp4 please", "export"),
        ("帮我导出视频", "export"),
        ("download the result", "export"),
        ("send me the video", "export"),
        ("how many credits do I have?", "credits"),
        ("积分还有多少", "credits"),
        ("what's my balance", "credits"),
        ("余额", "credits"),
        ("status?", "state"),
        ("状态", "state"),
        ("show tracks", "state"),
        ("upload my clip", "upload"),
        ("上传素材", "upload"),
        ("generate a calm lo-fi background track", "message"),
        ("add BGM to the intro", "message"),
        ("the exporter's statusbar", "message"),  # whole words only
    ],
)
def test_route(text: str, action: str) -> None:
    assert route(text) == action


def test_a_given_file_means_upload_unless_another_route_matches() -> None:
    assert route("here you go", has_files=True) == "upload"
    assert route("export this", has_files=True) == "export"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Added a calm track. Click Export to download it.", [("export", "Export")]),
        ("点击导出", [("export", "导出")]),
        ("Open the timeline, then drag the clip to 0:05.", [("state", "timeline"), ("message", None)]),
        ("You can preview in the timeline.", [("state", None)]),
        ("拖拽音乐到视频下方，然后导出", [("message", None), ("export", "导出")]),
        ("Click Generate to try again", [("message", "Generate")]),
        ("All done, enjoy!", []),
    ],
)
def test_translate_gui(text: str, expected: list[tuple[str, str | None]]) -> None:
    assert [(a.action, a.target) for a in translate_gui(text)] == expected
