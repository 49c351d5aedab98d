"""Numbers in words: Chinese numerals (一, 两, 十五, 二十, 一百零五) and English ones ("forty-five") to integers.

Used by `nemo_local.durations`, the one duration reader of the agent (chat messages) and the composer
(prompts), so the two read "两分钟" and "two minutes" the same way. Kept outside ``nemo_local.composer``
on purpose: importing anything from that package loads the synthesis stack, and the agent must stay
cheap to import.
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


_EN_UNITS: tuple[str, ...] = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
)
_EN_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
ENGLISH_NUMBERS: dict[str, int] = {
    **{word: value for value, word in enumerate(_EN_UNITS)},
    **_EN_TENS,
    "a": 1,
    "an": 1,
}
#: An English number word in a regular expression: "seven", "twenty", "forty-five", "ninety nine", "a".
ENGLISH_NUMBER_PATTERN = (
    r"(?<![a-z])(?:(?:"
    + "|".join(_EN_TENS)
    + r")(?:[\s-]?(?:"
    + "|".join(_EN_UNITS[1:10])
    + r"))?|"
    + "|".join(sorted(ENGLISH_NUMBERS, key=len, reverse=True))
    + r")(?![a-z])"
)


def english_number(words: str) -> int | None:
    """The value of an English number from zero to ninety-nine ("forty-five", "ninety nine", "a"), or None."""
    parts = words.lower().replace("-", " ").split()
    if len(parts) == 1:
        return ENGLISH_NUMBERS.get(parts[0])
    if len(parts) == 2 and parts[0] in _EN_TENS and parts[1] in _EN_UNITS[1:10]:
        return _EN_TENS[parts[0]] + _EN_UNITS.index(parts[1])
    return None
