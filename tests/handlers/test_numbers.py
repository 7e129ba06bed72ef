"""Numbers in typed text are ASCII digits: `²`, `١٥`, `1_0` and 5,000 zeros are not numbers."""

from __future__ import annotations

import pytest

from handlers.numbers import ascii_decimal, ascii_int, port_number


@pytest.mark.parametrize(
    ("text", "expected"), [("0", 0), ("25", 25), ("007", 7), ("999999999", 999_999_999)]
)
def test_ascii_digits_are_numbers(text: str, expected: int) -> None:
    assert ascii_int(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "²", "2²", "①", "١٥", "１５", "1_0", "+5", "-5", " 5", "5\n", "1e3", "0" * 5000, "25.0"],
)
def test_anything_else_is_not_a_number(text: str) -> None:
    assert text.isdigit() or not text.isdecimal()  # the lookalikes str methods accept
    assert ascii_int(text) is None


@pytest.mark.parametrize(
    ("text", "expected"), [("2", 2.0), ("0.5", 0.5), (".5", 0.5), ("10.", 10.0)]
)
def test_decimals(text: str, expected: float) -> None:
    assert ascii_decimal(text) == expected


@pytest.mark.parametrize("text", ["nan", "inf", "-1", "1e2", "١", "1_0", "0x10", "", ".", "²"])
def test_not_decimals(text: str) -> None:
    assert ascii_decimal(text) is None


def test_ports() -> None:
    assert port_number("587") == 587
    assert [port_number(t) for t in ("0", "65536", "²5", "٢٥")] == [None] * 4
