"""Draft: short keys <-> readable names, lossless round trip, the contract's summary line."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from nemo_provider.client.draft import Draft, Segment, Track

CONTRACT_EXAMPLE = {
    "t": [
        {"tt": 0, "sg": [{"id": "v1", "s": 0, "d": 10000, "src": "https://cdn.example/city_timelapse.mp4"}]},
        {"tt": 1, "sg": [{"id": "a1", "s": 0, "d": 10000, "v": 0.35, "m": {"title": "Lo-fi"}}]},
        {"tt": 7, "sg": [{"id": "t1", "s": 0, "d": 3000, "txt": "Urban Dreams"}]},
    ],
    "d": 10000,
    "m": {"title": "demo", "width": 1920, "height": 1080},
}


def test_summary_matches_the_contract_example() -> None:
    summary = Draft.from_wire(CONTRACT_EXAMPLE).summary()
    assert summary == (
        "Timeline (3 tracks): 1. Video: city timelapse (0-10s) 2. BGM: Lo-fi (0-10s, 35%) "
        '3. Title: "Urban Dreams" (0-3s)'
    )


def test_short_keys_become_readable_names() -> None:
    draft = Draft.from_wire(CONTRACT_EXAMPLE)
    assert draft.duration_ms == 10000
    assert draft.metadata == {"title": "demo", "width": 1920, "height": 1080}
    assert draft.tracks is not None
    assert [t.kind for t in draft.tracks] == ["video", "audio", "text"]
    bgm = draft.tracks[1].segments
    assert bgm is not None
    assert bgm[0].volume == 0.35 and bgm[0].start_ms == 0 and bgm[0].duration_ms == 10000
    assert draft.tracks[2].segments is not None
    assert draft.tracks[2].segments[0].text == "Urban Dreams"


def test_all_segment_keys_parse_and_write_back() -> None:
    wire = {
        "id": 5,
        "s": 1.5,
        "d": 2,
        "src": "u",
        "txt": "x",
        "v": 1,
        "fi": 100,
        "fo": 200,
        "ss": 300,
        "m": {},
    }
    seg = Segment.from_wire(wire)
    assert (seg.id, seg.fade_in_ms, seg.fade_out_ms, seg.source_offset_ms, seg.metadata) == (
        5,
        100,
        200,
        300,
        {},
    )
    assert seg.extra == {}
    assert seg.to_wire() == wire


def test_unknown_keys_and_odd_types_survive_untouched() -> None:
    wire: dict[str, Any] = {
        "t": [{"tt": 3, "sg": [{"s": "late", "v": None, "zz": [1, {"q": 2}]}], "lock": True}],
        "d": None,
        "ver": 7,
    }
    original = copy.deepcopy(wire)
    draft = Draft.from_wire(wire)
    assert draft.extra == {"d": None, "ver": 7}
    assert draft.tracks is not None and draft.tracks[0].kind == 3
    assert draft.to_wire() == original
    assert wire == original  # parsing did not mutate the input


def test_editing_a_parsed_draft_changes_only_that_field() -> None:
    draft = Draft.from_wire(CONTRACT_EXAMPLE)
    assert draft.tracks is not None and draft.tracks[1].segments is not None
    draft.tracks[1].segments[0].volume = 0.5
    wire = draft.to_wire()
    assert wire["t"][1]["sg"][0]["v"] == 0.5
    assert CONTRACT_EXAMPLE["t"][1]["sg"][0]["v"] == 0.35  # type: ignore[index]
    wire["t"][1]["sg"][0]["v"] = 0.35
    assert wire == CONTRACT_EXAMPLE


def test_exportable_needs_a_track_with_segments() -> None:
    assert Draft.from_wire(CONTRACT_EXAMPLE).is_exportable
    assert not Draft.from_wire({}).is_exportable
    assert not Draft.from_wire({"t": [{"tt": 0, "sg": []}]}).is_exportable


def test_summary_of_empty_and_unusual_timelines() -> None:
    assert Draft.from_wire({}).summary() == "Timeline (0 tracks): empty"
    one = Draft.from_wire({"t": [{"tt": 0, "sg": []}]}).summary()
    assert one == "Timeline (1 track): 1. Video: (empty)"
    many = Draft(
        tracks=[
            Track(
                kind="video",
                segments=[Segment(id=f"c{i}", start_ms=i * 2500, duration_ms=2500) for i in range(5)],
            )
        ]
    ).summary()
    assert many == "Timeline (1 track): 1. Video: c0, c1, c2 +2 more (0-12.5s)"
    odd = Draft.from_wire({"t": [{"tt": 9, "sg": [{"src": "https://x/a%20b.wav"}]}]}).summary()
    assert odd == "Timeline (1 track): 1. Track type 9: a b"


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


def _with_keys(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(keys) | st.text(max_size=3), json_values, max_size=6)


segments = _with_keys(["id", "s", "d", "src", "txt", "v", "fi", "fo", "ss", "m"])
tracks = st.fixed_dictionaries(
    {}, optional={"tt": st.integers(-2, 9) | json_values, "sg": st.lists(segments, max_size=3) | json_values}
).flatmap(lambda base: _with_keys(["m", "x"]).map(lambda more: {**more, **base}))
drafts = st.fixed_dictionaries(
    {}, optional={"t": st.lists(tracks, max_size=3) | json_values, "d": json_values, "m": json_values}
).flatmap(lambda base: _with_keys(["x", "y"]).map(lambda more: {**more, **base}))


@settings(max_examples=200, deadline=None)
@given(drafts)
def test_any_draft_round_trips_unchanged(wire: dict[str, Any]) -> None:
    original = copy.deepcopy(wire)
    draft = Draft.from_wire(wire)
    assert draft.to_wire() == original
    draft.summary()  # never raises, whatever the content
