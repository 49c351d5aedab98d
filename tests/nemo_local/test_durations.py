"""`nemo_local.durations`, the one duration reader: its phrases and decisions, and the agent and the
composer reading every phrase alike (the two parsers they had disagreed: "the 80s" was 80 s to the
agent and "two minutes" nothing to it)."""

from __future__ import annotations

import pytest

from nemo_local.agent.numbers import normalise
from nemo_local.agent.understand import understand
from nemo_local.composer.prompt import parse_prompt
from nemo_local.durations import duration_at, durations, find_duration, find_duration_s

PHRASES = [
    ("90 seconds", 90), ("90 secs", 90), ("90 sec", 90), ("90s", 90), ("90 s", 90), ("60-second", 60),
    ("2-minute", 120), ("2 minutes", 120), ("2 min", 120), ("2m", 120), ("1.5 min", 90), ("1:30", 90),
    ("1 minute 30 seconds", 90), ("1 minute and 30 seconds", 90), ("2 min 15 s", 135), ("two minutes", 120),
    ("two-minute", 120), ("Two Minutes", 120), ("forty-five seconds", 45), ("ninety nine seconds", 99),
    ("a minute", 60), ("half a minute", 30), ("one and a half minutes", 90), ("a minute and a half", 90),
    ("2 and a half minutes", 150), ("60秒", 60), ("2分钟", 120), ("1分30秒", 90), ("两分钟", 120),
    ("四十五秒", 45), ("一分半", 90), ("两分半钟", 150), ("半分钟", 30), ("一分钟三十秒", 90), ("４５秒", 45),
]  # fmt: skip
NOT_DURATIONS = [
    "the 80s",  # a decade: a style hint for the composer
    "the 1980s synthwave",
    "'90s r&b",
    "’70s funk",
    "1980s",
    "a second track",  # another track, not a one-second one
    "十分好听",  # "very nice": 分 alone is no minute
    "2 months",
    "5 sets of drums",
    "mp3 s",
    "九" * 20 + "秒",  # a run of numerals nobody means
    "1" * 30 + " seconds",  # a number longer than nine digits
]


@pytest.mark.parametrize(("text", "seconds"), PHRASES)
def test_phrases(text: str, seconds: float) -> None:
    found = find_duration(f"make a calm track, {text}, for the intro")
    assert found is not None and found.seconds == seconds and found.phrase == text


@pytest.mark.parametrize("text", NOT_DURATIONS)
def test_what_is_not_a_duration(text: str) -> None:
    assert find_duration_s(text) is None


def test_epic_90s_without_the_article_is_ninety_seconds() -> None:
    assert find_duration_s("epic cinematic 90s") == 90
    assert find_duration_s("the 90 seconds intro") == 90  # "the" only makes a decade of "90s" attached


def test_every_duration_left_to_right_with_spans_of_the_text_as_given() -> None:
    text = "a ３０秒 intro, then the 80s part for 2 minutes and 1:30 of outro"
    found = list(durations(text))
    assert [(d.seconds, d.unit) for d in found] == [(30, "s"), (120, "min"), (90, "min")]
    assert [text[d.start : d.end] for d in found] == ["３０秒", "2 minutes", "1:30"]


def test_duration_at_reads_only_what_starts_there() -> None:
    text = "title Hi for  3 seconds, then 5 s"
    assert duration_at(text, text.index("for") + 3) == find_duration(text)
    assert duration_at(text, 0) is None


@pytest.mark.parametrize("text", [phrase for phrase, _ in PHRASES])
def test_the_agent_and_the_composer_read_every_phrase_alike(text: str) -> None:
    seconds = dict(PHRASES)[text]
    assert parse_prompt(f"calm piano, {text}").duration_s == seconds
    assert find_duration_s(normalise(f"make it {text}")) == seconds  # the agent reads normalised text
    length = [op.value for op in understand(f"make it {text}", has_music=True, has_video=False).ops]
    assert length == [seconds]


@pytest.mark.parametrize("text", ["the 80s", "a second track", "十分好听"])
def test_neither_side_reads_a_non_duration(text: str) -> None:
    assert parse_prompt(f"synthwave {text}", default_duration_s=33.0).duration_s == 33.0
    assert understand(f"make it {text}", has_music=True, has_video=False).ops == []
