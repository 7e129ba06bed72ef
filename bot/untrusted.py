"""Text that comes from others (DNS, SMTP servers, bounces, people) made safe to show.

Bidirectional controls (U+202E, U+2066, ...) can make `moc.evil` read as `evil.com`, and
zero-width characters can make two different names look the same: every character of
Unicode's "format" category (Cf) is removed before such text reaches Slack or a terminal.
What is left is what the bytes say.
"""

from __future__ import annotations

import unicodedata


def visible(value: object) -> str:
    """`value` as text without format characters (bidi controls, zero-width, soft hyphen)."""
    text = str(value)
    if text.isascii():
        return text
    return "".join(c for c in text if unicodedata.category(c) != "Cf")
