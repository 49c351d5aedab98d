"""Draft parsing: short keys, readable keys, canvas size, volumes, validation."""

from __future__ import annotations

import pytest

from nemo_local.renderer import RenderError
from nemo_local.renderer.timeline import canvas_size, parse_draft


def test_short_keys() -> None:
    tl = parse_draft(
        {
            "t": [
                {"tt": 0, "sg": [{"id": "v", "s": 500, "d": 2000, "src": "u://v", "ss": 1500}]},
                {
                    "tt": 1,
                    "sg": [{"id": "a", "s": 0, "d": 3000, "src": "u://a", "v": 0.35, "fi": 200, "fo": 400}],
                },
                {"tt": 7, "sg": [{"id": "t", "s": 0, "d": 1000, "txt": "Hi", "m": {"position": "top"}}]},
                {"tt": 42, "sg": [{"id": "sticker", "s": 0, "d": 1000}]},
            ],
            "d": 3000,
            "m": {"title": "T"},
        }
    )
    assert (tl.width, tl.height, tl.duration, tl.title) == (1920, 1080, 3.0, "T")
    assert tl.video[0].start == 0.5 and tl.video[0].source_offset == 1.5
    audio = tl.audio[0]
    assert (audio.volume, audio.fade_in, audio.fade_out) == (0.35, 0.2, 0.4)
    assert tl.text[0].meta["position"] == "top"


def test_readable_keys_percent_volume_and_implied_duration() -> None:
    tl = parse_draft(
        {
            "tracks": [
                {
                    "type": "audio",
                    "segments": [{"start_ms": 0, "duration_ms": 4000, "src": "x", "volume": 35}],
                },
                {"type": "text", "segments": [{"start_ms": 1000, "duration_ms": 5000, "text": "End"}]},
            ]
        }
    )
    assert tl.duration == 6.0
    assert tl.audio[0].volume == pytest.approx(0.35)


@pytest.mark.parametrize(
    ("meta", "size"),
    [
        ({}, (1920, 1080)),
        ({"width": 1080, "height": 1920}, (1080, 1920)),
        ({"width": 3840, "height": 2160}, (1920, 1080)),
        ({"orientation": "portrait"}, (1080, 1920)),
        ({"width": 1001, "height": 721}, (1002, 722)),
    ],
)
def test_canvas_size(meta: dict, size: tuple[int, int]) -> None:
    assert canvas_size(meta) == size


@pytest.mark.parametrize(
    "draft",
    [
        {},
        {"t": "nope"},
        {"t": [{"tt": 1, "sg": [{"s": "soon", "d": 1000, "src": "x"}]}]},
        {"t": [{"tt": 1, "sg": [{"s": -5, "d": 1000, "src": "x"}]}]},
        {"t": [{"tt": 7, "sg": [{"s": 0, "d": 1000, "txt": "   "}]}]},
        {"t": [{"tt": 1, "sg": [{"s": 0, "d": 4_000_000, "src": "x"}]}]},
    ],
)
def test_invalid_drafts(draft: dict) -> None:
    with pytest.raises(RenderError):
        parse_draft(draft)
