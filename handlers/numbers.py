"""Numbers read from text people type or paste: ASCII digits only.

`str.isdigit()` is true for 128 code points `int()` refuses (`²`, `①`), and `int()` and
`float()` accept other scripts' digits (`١٥`), underscores (`1_0`), `inf`, `nan` and
thousands of digits (which Python refuses with ValueError). A port, a prefix length, an
interval or a timeout is a few ASCII digits; anything else is not a number here.
"""

from __future__ import annotations

import re

_INTEGER = re.compile(r"[0-9]{1,9}", re.ASCII)
_DECIMAL = re.compile(r"(?:[0-9]{1,9}(?:\.[0-9]{0,9})?|\.[0-9]{1,9})", re.ASCII)


def ascii_int(text: str) -> int | None:
    """`text` as a whole number written in ASCII digits (at most nine), else None."""
    return int(text) if _INTEGER.fullmatch(text) else None


def ascii_decimal(text: str) -> float | None:
    """`text` as a decimal number like `2`, `0.5` or `.5` in ASCII digits, else None."""
    return float(text) if _DECIMAL.fullmatch(text) else None


def port_number(text: str) -> int | None:
    """`text` as a TCP/UDP port (1 to 65535), else None."""
    value = ascii_int(text)
    return value if value is not None and 0 < value < 65536 else None
