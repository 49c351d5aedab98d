from __future__ import annotations

import pytest

from nemo_local.numerals import chinese_number


@pytest.mark.parametrize(
    ("word", "value"),
    [
        ("三", 3),
        ("两", 2),
        ("十", 10),
        ("十五", 15),
        ("二十", 20),
        ("四十五", 45),
        ("一百零五", 105),
        ("一二", 12),
    ],
)
def test_reads_numerals(word: str, value: int) -> None:
    assert chinese_number(word) == value


@pytest.mark.parametrize("word", ["", "三分", "abc", "半"])
def test_anything_else_is_not_a_number(word: str) -> None:
    assert chinese_number(word) is None


def test_agent_and_composer_read_durations_alike() -> None:
    from nemo_local.agent.numbers import find_duration_s, normalise
    from nemo_local.composer.prompt import parse_prompt

    for text in ("两分钟的音乐", "四十五秒", "三十秒", "一分半", "两分半钟"):
        agent = find_duration_s(normalise(text))
        composer = parse_prompt(text).duration_s
        assert agent is not None and composer is not None
        assert agent == pytest.approx(composer), text
