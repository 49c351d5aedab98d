"""Numbers, percentages and durations in English and Chinese messages ("45 seconds", "2-minute", "90s",
"1:30", "三十秒", "两分钟", "35%")."""

from __future__ import annotations

import re

from nemo_local.numerals import chinese_number

_ZH_NUMBER = re.compile(r"[零一二两三四五六七八九十百]+")


def normalise(text: str) -> str:
    """Chinese numerals to digits, full-width digits and punctuation to ASCII, lower case."""
    text = text.translate(str.maketrans("０１２３４５６７８９％：", "0123456789%:"))
    # 一分半 is one and a half minutes, as the composer reads it
    text = text.replace("半分钟", "30秒").replace("分半", "分30秒")
    text = _ZH_NUMBER.sub(lambda m: str(chinese_number(m.group(0))), text)
    return text.lower()


_NUM = r"(\d+(?:\.\d+)?)"
_DURATION_PATTERNS: list[tuple[re.Pattern[str], float]] = [
    (re.compile(rf"{_NUM}\s*[- ]?\s*(?:minutes?|mins?|分钟|分)(?![a-z])"), 60.0),
    (re.compile(rf"{_NUM}\s*[- ]?\s*(?:seconds?|secs?|s|秒)(?![a-z])"), 1.0),
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
                tail = re.match(rf"\s*(?:and\s*)?{_NUM}\s*(?:seconds?|secs?|s|秒)", rest)
                if tail:
                    value += float(tail.group(1))
            best = (m.start(), value)
    return best[1] if best else None


def find_percent(text: str) -> float | None:
    """A percentage as a 0-1 fraction ("35%", "35 percent", "百分之35")."""
    m = re.search(rf"{_NUM}\s*(?:%|percent|per cent)", text) or re.search(rf"百分之\s*{_NUM}", text)
    if not m:
        return None
    return max(0.0, min(1.0, float(m.group(1)) / 100.0))
