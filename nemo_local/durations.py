"""Durations in English and Chinese text: the one reader of the agent (chat messages) and the composer
(prompts), so "two minutes", "1:30" or "一分半" mean the same to both.

Read, in seconds: "90 seconds", "90 secs", "90s", "60-second", "2-minute", "2 min", "2m", "1.5 min",
"1:30", "1 minute 30 seconds", "2 min 15 s", "two minutes", "forty-five seconds", "a minute",
"half a minute", "one and a half minutes", "a minute and a half", "60秒", "2分钟", "1分30秒", "两分钟",
"四十五秒", "一分半", "两分半钟", "半分钟", and full-width digits ("４５秒").

Decided on purpose (each is tested):

* "the 80s", "'90s", "’70s" and "1980s" are decades, a style hint the composer's vocabulary reads, never
  a duration: a number ending in 0 with "s" attached, after "the " or an apostrophe, or a year 19x0/20x0
  with "s". Without the article, "epic 90s" is 90 seconds, as people write lengths.
* "a second" is not one second ("a second track" is another track); "a minute" is sixty seconds.
* 分 alone is not a minute ("十分好听" is "very nice"); 分钟, 分半 and 分…秒 are.
* Nothing is clamped here: each caller owns its bounds (the composer's 1-600 s, a fade's, a title's).

`find_duration(text)` gives the first duration with its span (the composer blanks the span, so one
phrase never counts twice); `durations(text)` yields every one left to right; `duration_at(text, pos)`
reads one that starts at `pos` ("... for 3 seconds" after a title).

Linear time on any input (a message may be 16 KB of hostile text): numbers are anchored (never inside a
longer number) and bounded in length, and no two adjacent quantifiers can split one run of characters
between them, so a failed match never retries a run more than once per start.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from nemo_local.numerals import ENGLISH_NUMBER_PATTERN, chinese_number, english_number

#: A number in digits: never inside a longer number, at most 9 digits and 6 decimals.
DIGITS = r"(?<![a-z0-9_.])\d{1,9}(?:\.\d{1,6})?(?!\d)"
_ZH = r"(?<![零一二两三四五六七八九十百])[零一二两三四五六七八九十百]{1,8}"
_DASH = r"\s*(?:-\s*)?"  # "45 minutes", "45-minute", "45 - minute": one way to split any run
_MIN = r"(?:minutes?|mins?|m)(?![a-z])"
_SEC = r"(?:seconds?|secs?|s)(?![a-z])"
_HALF = r"\s*and\s*a\s*half(?![a-z])"
#: Full-width digits and number punctuation to ASCII, one character for one (spans stay valid).
FULL_WIDTH = str.maketrans("０１２３４５６７８９：．％", "0123456789:.%")


def _en(name: str) -> str:
    return rf"(?:(?P<{name}_d>{DIGITS})|(?P<{name}_w>{ENGLISH_NUMBER_PATTERN}))"


def _zh(name: str) -> str:
    return rf"(?:(?P<{name}_d>{DIGITS})|(?P<{name}_z>{_ZH}))"


_PATTERN = re.compile(
    "|".join(
        (
            r"(?P<decade>(?:(?<=the )|(?<=['’‘]))\d{0,3}0s|(?<![a-z0-9_.'’‘])(?:19|20)\d0s)(?![a-z])",
            r"(?<![\d:.])(?P<clock_m>\d{1,2}):(?P<clock_s>[0-5]\d)(?![\d:])",
            rf"{_en('ms_m')}{_DASH}{_MIN}\s*(?:and\s*)?{_en('ms_s')}{_DASH}{_SEC}",
            rf"(?<![a-z])half[\s-]*(?:an?[\s-]+)?(?:(?P<half_min>{_MIN})|{_SEC})",
            rf"{_en('en')}(?P<en_h1>{_HALF})?{_DASH}(?:(?P<en_min>{_MIN})|(?P<en_sec>{_SEC}))(?P<en_h2>{_HALF})?",
            rf"{_zh('zms_m')}\s*分钟?\s*{_zh('zms_s')}\s*秒",
            rf"{_zh('zhalf')}\s*分半钟?",
            rf"(?:{_zh('zh')}|(?P<zh_half>半))\s*(?:(?P<zh_min>分钟)|秒)",
        )
    ),
    re.IGNORECASE,
)
_SPACE = re.compile(r"\s*")


@dataclass(frozen=True)
class Duration:
    """One duration found in a text: its value, where it is, and the words that said it."""

    seconds: float
    start: int
    end: int
    phrase: str
    unit: Literal["s", "min"]  # what the phrase counts in ("1:30" and "1分30秒" count minutes)


def _number(m: re.Match[str], name: str) -> float | None:
    digits, word, zh = m.group(f"{name}_d"), _group(m, f"{name}_w"), _group(m, f"{name}_z")
    if digits is not None:
        return float(digits)
    value = english_number(word) if word is not None else chinese_number(zh) if zh is not None else None
    return None if value is None else float(value)


def _group(m: re.Match[str], name: str) -> str | None:
    return m.group(name) if name in m.re.groupindex else None


def _value(m: re.Match[str]) -> tuple[float, Literal["s", "min"]] | None:
    """Seconds and unit of one match of _PATTERN, None when it is no duration (a decade, "a second")."""
    if m.group("decade") is not None:
        return None
    if m.group("clock_m") is not None:
        return int(m.group("clock_m")) * 60.0 + int(m.group("clock_s")), "min"
    if m.group("ms_m_d") is not None or m.group("ms_m_w") is not None:
        minutes, seconds = _number(m, "ms_m"), _number(m, "ms_s")
        if minutes is None or seconds is None:
            return None
        return minutes * 60.0 + seconds, "min"
    if m.group(0).lower().startswith("half"):
        return (30.0, "min") if m.group("half_min") is not None else (0.5, "s")
    if m.group("en_d") is not None or m.group("en_w") is not None:
        value = _number(m, "en")
        word = (m.group("en_w") or "").lower()
        if value is None or (word in ("a", "an") and m.group("en_sec") is not None):
            return None  # "a second track" is another track, not a one-second one
        if m.group("en_h1") is not None or m.group("en_h2") is not None:
            value += 0.5
        return (value * 60.0, "min") if m.group("en_min") is not None else (value, "s")
    if m.group("zms_m_d") is not None or m.group("zms_m_z") is not None:
        minutes, seconds = _number(m, "zms_m"), _number(m, "zms_s")
        if minutes is None or seconds is None:
            return None
        return minutes * 60.0 + seconds, "min"
    if m.group("zhalf_d") is not None or m.group("zhalf_z") is not None:
        minutes = _number(m, "zhalf")
        return None if minutes is None else ((minutes + 0.5) * 60.0, "min")
    value = 0.5 if m.group("zh_half") is not None else _number(m, "zh")
    if value is None:
        return None
    return (value * 60.0, "min") if m.group("zh_min") is not None else (value, "s")


def _duration(m: re.Match[str], text: str) -> Duration | None:
    found = _value(m)
    if found is None:
        return None
    seconds, unit = found
    return Duration(seconds, m.start(), m.end(), text[m.start() : m.end()], unit)


def durations(text: str) -> Iterator[Duration]:
    """Every duration in `text`, left to right, none overlapping another (spans index `text` as given)."""
    plain = text.translate(FULL_WIDTH)  # one character for one: spans stay those of `text`
    for m in _PATTERN.finditer(plain):
        found = _duration(m, text)
        if found is not None:
            yield found


def find_duration(text: str) -> Duration | None:
    """The first duration in `text`, or None."""
    return next(durations(text), None)


def find_duration_s(text: str) -> float | None:
    """The first duration in `text`, in seconds, or None."""
    found = find_duration(text)
    return found.seconds if found is not None else None


def duration_at(text: str, pos: int) -> Duration | None:
    """A duration that starts at `pos` (after any spaces), or None: "3 seconds" in "title X for 3 seconds"."""
    plain = text.translate(FULL_WIDTH)
    start = _SPACE.match(plain, pos)
    m = _PATTERN.match(plain, start.end() if start else pos)
    return _duration(m, text) if m else None
