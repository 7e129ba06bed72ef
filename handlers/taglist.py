"""The tag=value list that DKIM keys (RFC 6376 section 3.2) and DMARC records share.

Parsed leniently: every problem is reported instead of raised, so the review can say
what is wrong with a record and still read the rest of it, as receivers do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from handlers.i18n import _

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class TagList:
    """Tags in the order written (the first of duplicates kept), and what did not parse."""

    tags: dict[str, str] = field(default_factory=dict)
    order: tuple[str, ...] = ()
    #: Each problem in words a person can act on ("'p' has no '='").
    problems: tuple[str, ...] = ()
    duplicates: tuple[str, ...] = ()


def parse_tags(text: str, *, lower_names: bool = False) -> TagList:
    """Split `text` on ';' into tags; values keep their inner spaces, ends are trimmed.

    `lower_names`: DMARC tag names compare case-insensitively; DKIM's do not.
    """
    tags: dict[str, str] = {}
    order: list[str] = []
    problems: list[str] = []
    duplicates: list[str] = []
    specs = text.split(";")
    for index, raw in enumerate(specs):
        spec = raw.strip()
        if not spec:
            if index != len(specs) - 1:
                problems.append(_("an empty tag between two ';'"))
            continue
        if "=" not in spec:
            problems.append(
                _("'{tag}' has no '=' (every tag is name=value)").format(tag=_short(spec))
            )
            continue
        name, value = (part.strip() for part in spec.split("=", 1))
        if lower_names:
            name = name.lower()
        if not _NAME.match(name):
            problems.append(_("'{tag}' is not a valid tag name").format(tag=_short(name)))
            continue
        if name in tags:
            duplicates.append(name)
            continue
        tags[name] = value
        order.append(name)
    return TagList(tags, tuple(order), tuple(problems), tuple(duplicates))


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
