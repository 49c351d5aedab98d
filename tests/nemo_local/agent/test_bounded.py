"""Understanding is linear in the message: the inputs that were quadratic (or worse) before take a few
milliseconds per kilobyte now, at 16 KB and at four times that (the time grows with the length, not
its square), and no input crashes the number parsing."""

from __future__ import annotations

import time

import pytest

from nemo_local.agent.understand import TITLE_CHARS, understand
from nemo_local.composer.prompt import parse_prompt

UNITS = ["make ", "1", "1 ", "change the length of ", "title ", " ", "“", "‘", "九", "一", "fit ", "calm ",
         "in ", "seed ", "bpm ", "1 -", "hip hop ", "İ", "fade in "]  # fmt: skip


def _worst(size: int) -> float:
    worst = 0.0
    for unit in UNITS:
        text = (unit * (size // len(unit.encode())))[:size]
        started = time.perf_counter()
        understand(text, has_music=False, has_video=True)
        understand(text, has_music=True, has_video=True)
        parse_prompt(text)
        worst = max(worst, time.perf_counter() - started)
    return worst


@pytest.mark.slow
def test_the_worst_inputs_take_linear_time() -> None:
    small, large = _worst(16 * 1024), _worst(64 * 1024)
    assert small < 1.0, small  # was 25 s for 16 KB of digits, 1.8 s for "make " * 3276
    assert large < 8 * max(small, 0.05), (small, large)  # linear is 4x, quadratic 16x


def test_a_title_is_at_most_200_characters() -> None:
    u = understand('add a title "' + "x" * 5000 + '"', has_music=True, has_video=False)
    assert u.kind == "edit" and len(u.ops[0].text or "") == TITLE_CHARS


@pytest.mark.parametrize("text", ["九" * 5000 + "秒", "1" * 400 + " seconds", "make it " + "9" * 5000 + "%"])
def test_huge_numbers_neither_crash_nor_count(text: str) -> None:
    understand(text, has_music=True, has_video=False)
    assert 1 <= parse_prompt(text).duration_s <= 600
