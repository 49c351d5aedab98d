"""Durations and percentages in English and Chinese."""

from __future__ import annotations

import pytest

from nemo_local.agent.numbers import find_duration_s, find_percent, normalise


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("60-second", 60), ("2-minute", 120), ("90s", 90), ("1:30", 90), ("1 minute 30 seconds", 90), ("两分钟", 120),
     ("三十秒", 30), ("半分钟", 30), ("1分30秒", 90), ("no number here", None)],
)  # fmt: skip
def test_durations(text: str, seconds: float | None) -> None:
    assert find_duration_s(normalise(text)) == seconds


def test_percentages() -> None:
    assert find_percent("35%") == 0.35
    assert find_percent("百分之50") == 0.5
    assert find_percent("250 percent") == 1.0
    assert find_percent("none") is None
