"""Which texts of the data files (catalogue.toml, bounce_patterns.toml) a person reads.

They are translated like the code's sentences: one gettext catalogue, the English text as
the message id, so a translator works in one `.po` file with the usual tools and adding a
language never changes the data files' layout. `extract_toml` is the Babel extractor that
puts them in the catalogue (see `babel.cfg`); the handlers translate them where they are
shown, with `handlers.i18n.translated`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

#: Keys whose string values are for people (anything else is a name, a pattern, a URL or a kind).
TEXT_KEYS = frozenset(
    {
        "meaning",
        "default_meaning",
        "advice",
        "access",
        "terms",
        "explanation",
        "summary",
        "note",
        "title",
        "rule",
        "short",
        "description",
    }
)
#: Tables mapping a return code to its meaning, as plain strings.
CODE_TABLES = frozenset({"codes"})

Extracted = tuple[int, str | None, str, list[str]]


def texts(data: Mapping[str, Any], inside_codes: bool = False) -> Iterator[str]:
    """Every translatable string of parsed TOML `data`, in file order."""
    for key, value in data.items():
        if isinstance(value, str):
            if key in TEXT_KEYS or inside_codes:
                yield value
        elif isinstance(value, Mapping):
            yield from texts(value, inside_codes=key in CODE_TABLES)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping):
                    yield from texts(item)
                elif isinstance(item, str) and key in TEXT_KEYS:
                    yield item


def extract_toml(
    fileobj: IO[bytes],
    keywords: Collection[str],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[Extracted]:
    """Babel extractor: (line, funcname, message, comments) for each text of a TOML file."""
    del keywords, comment_tags, options  # every text is a plain message
    raw = fileobj.read().decode("utf-8")
    lines = raw.splitlines()
    seen: set[str] = set()
    for text in texts(tomllib.loads(raw)):
        if text in seen:
            continue
        seen.add(text)
        needle = text[:40]
        line = next((n for n, row in enumerate(lines, 1) if needle in row), 0)
        yield line, None, text, []
