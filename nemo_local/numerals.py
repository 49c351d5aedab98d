"""Chinese numerals (一, 两, 十五, 二十, 一百零五) to integers.

Shared by the agent (durations in chat messages) and the composer (durations in prompts), so the two
read "两分钟" the same way. Kept outside ``nemo_local.composer`` on purpose: importing anything from
that package loads the synthesis stack, and the agent must stay cheap to import.
"""

from __future__ import annotations

CHINESE_DIGITS: dict[str, int] = {
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_UNITS: dict[str, int] = {"十": 10, "百": 100}


def chinese_number(word: str) -> int | None:
    """The value of ``word``, or None when it holds anything but numerals.

    A unit (十, 百) multiplies the digits before it (1 when there are none, as in 十五); digits
    without a unit between them read positionally (一二 is 12), as people type them.
    """
    if not word or any(ch not in CHINESE_DIGITS and ch not in _UNITS for ch in word):
        return None
    total, current = 0, 0
    for ch in word:
        if ch in _UNITS:
            total += (current or 1) * _UNITS[ch]
            current = 0
        else:
            current = current * 10 + CHINESE_DIGITS[ch]
    return total + current
