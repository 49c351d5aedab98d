"""Numbers, percentages and durations in English and Chinese messages ("45 seconds", "2-minute", "90s",
"1:30", "三十秒", "两分钟", "35%").

Every pattern here runs in linear time on any input (a message may be 16 KB of hostile text): numbers
are anchored (never inside a longer number) and bounded in length, whitespace is collapsed before matching, and no two
adjacent quantifiers can split the same run of characters between them."""

from __future__ import annotations

import re

from nemo_local.numerals import chinese_number

_ZH_NUMBER = re.compile(r"[零一二两三四五六七八九十百]+")
_ZH_NUMBER_CHARS = 8  # longer runs of numerals are not a number anyone means (and would be huge)
_SPACE = re.compile(r"\s+")
_FULL_WIDTH = str.maketrans("０１２３４５６７８９％：", "0123456789%:")


def _zh_digits(match: re.Match[str]) -> str:
    word = match.group(0)
    if len(word) > _ZH_NUMBER_CHARS:
        return word
    return str(chinese_number(word))


def normalise(text: str) -> str:
    """Chinese numerals to digits, full-width digits and punctuation to ASCII, whitespace runs to one
    space, lower case."""
    text = text.translate(_FULL_WIDTH)
    # 一分半 is one and a half minutes, as the composer reads it
    text = text.replace("半分钟", "30秒").replace("分半", "分30秒")
    text = _ZH_NUMBER.sub(_zh_digits, text)
    return _SPACE.sub(" ", text).lower()


# A number: not inside a longer one, at most 9 digits (and 6 decimals), so matching it never backtracks
# over a long run of digits.
_NUM = r"(?<![\d.])(\d{1,9}(?:\.\d{1,6})?)(?![\d.])"
_DASH = r"\s*(?:-\s*)?"  # "45 minutes", "45-minute", "45 - minute": one way to split any run
_DURATION_PATTERNS: list[tuple[re.Pattern[str], float]] = [
    (re.compile(rf"{_NUM}{_DASH}(?:minutes?|mins?|分钟|分)(?![a-z])"), 60.0),
    (re.compile(rf"{_NUM}{_DASH}(?:seconds?|secs?|s|秒)(?![a-z])"), 1.0),
]
_CLOCK = re.compile(r"\b(\d{1,2}):([0-5]\d)\b")


def find_duration_s(text: str) -> float | None:
    """The first duration in `text` (already normalised), in seconds."""
    clock = _CLOCK.search(text)
    best: tuple[int, float] | None = None
    if clock:
        best = (clock.start(), int(clock.group(1)) * 60 + int(clock.group(2)))
    for pattern, factor in _DURATION_PATTERNS:
        m = pattern.search(text)
        if m and (best is None or m.start() < best[0]):
            value = float(m.group(1)) * factor
            # "1 minute 30 seconds" / "1分30秒"
            rest = text[m.end() : m.end() + 16]
            if factor == 60.0:
                tail = re.match(rf"\s?(?:and\s?)?{_NUM}\s?(?:seconds?|secs?|s|秒)", rest)
                if tail:
                    value += float(tail.group(1))
            best = (m.start(), value)
    return best[1] if best else None


def find_percent(text: str) -> float | None:
    """A percentage as a 0-1 fraction ("35%", "35 percent", "百分之35")."""
    m = re.search(rf"{_NUM}\s?(?:%|percent|per cent)", text) or re.search(rf"百分之\s?{_NUM}", text)
    if not m:
        return None
    return max(0.0, min(1.0, float(m.group(1)) / 100.0))
