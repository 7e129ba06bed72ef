"""One-megabyte pastes built to make a careless regex backtrack, for the bounce explainer.

Shared by the test that checks each is explained well-formed (tests/handlers/test_bounce.py)
and the benchmark that times them against plain prose (bench/bench_bounce.py).
"""

from __future__ import annotations

#: Name -> text, each about a megabyte: runs of one character the address, code and host
#: patterns start on, and real bounce lines repeated until the paste is huge.
HOSTILE: dict[str, str] = {
    "letters": "A" * 1_000_000,
    "colons": ":" * 1_000_000,
    "dots": "1." * 500_000,
    "brackets": "[" * 1_000_000,
    "hex": "f:" * 500_000,
    "rbl": "Client host [51.158.10.22] blocked using zen.spamhaus.org; " * 20_000,
    "received": ("Received: from a (b [51.158.10.22]) by c\n" * 25_000) + "550 5.7.1 reputation",
    "gmail": ("550-5.7.1 " + "x " * 10) * 50_000,
    "hosts": ("host " + "a." * 40 + " " * 60 + "[") * 10_000,
}

_PROSE = (
    "Thanks for the update on the migration. We moved the shared mailboxes over the weekend "
    "and most of the team could read their mail again on Monday morning. Two people still "
    "see an old calendar, which we think comes from the cached profile on their laptops. "
    "Could you send the notes from the planning meeting when you have a moment? "
)

#: The baseline: a megabyte of ordinary prose, nothing in it for the patterns to start on.
PROSE = (_PROSE * (1_000_000 // len(_PROSE) + 1))[:1_000_000]
