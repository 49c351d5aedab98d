"""The agent's message normaliser and its percentages (durations: tests/nemo_local/test_durations.py)."""

from __future__ import annotations

from nemo_local.agent.numbers import find_percent, normalise


def test_percentages() -> None:
    assert find_percent("35%") == 0.35
    assert find_percent("百分之50") == 0.5
    assert find_percent("250 percent") == 1.0
    assert find_percent("none") is None


def test_chinese_percent_survives_normalising() -> None:
    assert normalise("音量调到百分之三十五") == "音量调到百分之35"  # 百 of 百分之 is not a hundred
    assert find_percent(normalise("音量调到百分之三十五")) == 0.35


def test_normalise_makes_numerals_digits_and_spaces_single() -> None:
    assert normalise("两分钟  AND\t四十五秒") == "2分钟 and 45秒"
