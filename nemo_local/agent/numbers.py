"""A chat message made plain for the agent's rules, and percentages in it ("35%", "百分之35").

Durations are read by `nemo_local.durations`, the one reader the agent shares with the composer.

Every pattern here runs in linear time on any input (a message may be 16 KB of hostile text): numbers
are anchored (never inside a longer number) and bounded in length, whitespace is collapsed before
matching, and no two adjacent quantifiers can split the same run of characters between them."""

from __future__ import annotations

import re

from nemo_local.durations import DIGITS, FULL_WIDTH
from nemo_local.numerals import chinese_number

_ZH_NUMBER = re.compile(r"百分之|[零一二两三四五六七八九十百]+")  # 百分之 is "percent", not 100
_ZH_NUMBER_CHARS = 8  # longer runs of numerals are not a number anyone means (and would be huge)
_SPACE = re.compile(r"\s+")
_PERCENT = re.compile(rf"({DIGITS})\s?(?:%|percent|per cent)|百分之\s?({DIGITS})")


def _zh_digits(match: re.Match[str]) -> str:
    word = match.group(0)
    if word == "百分之" or len(word) > _ZH_NUMBER_CHARS:
        return word
    return str(chinese_number(word))


def normalise(text: str) -> str:
    """Chinese numerals to digits, full-width digits and punctuation to ASCII, whitespace runs to one
    space, lower case."""
    text = text.translate(FULL_WIDTH)
    text = _ZH_NUMBER.sub(_zh_digits, text)
    return _SPACE.sub(" ", text).lower()


def find_percent(text: str) -> float | None:
    """A percentage as a 0-1 fraction ("35%", "35 percent", "百分之35")."""
    m = _PERCENT.search(text)
    if not m:
        return None
    return max(0.0, min(1.0, float(m.group(1) or m.group(2)) / 100.0))
