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


def test_english_numbers() -> None:
    from nemo_local.numerals import english_number

    assert [english_number(w) for w in ("seven", "twenty", "forty-five", "ninety nine", "a", "an")] == [
        7,
        20,
        45,
        99,
        1,
        1,
    ]
    assert english_number("twenty twenty") is None and english_number("many") is None
