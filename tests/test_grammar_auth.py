"""The grammar of the domain-authentication commands: `dmarc DOMAIN [IP]`, `dkim DOMAIN [SELECTOR...]`."""

from __future__ import annotations

import pytest

from bot.grammar import Check, Dkim, Dmarc, UsageError, parse, usage


def test_dmarc() -> None:
    assert parse("dmarc Example.COM.") == Dmarc("example.com")
    assert parse("dmarc example.com 51.158.10.22") == Dmarc("example.com", "51.158.10.22")


def test_dkim_with_and_without_selectors() -> None:
    assert parse("dkim example.com") == Dkim("example.com")
    assert parse("dkim example.com selector1 S2 s2 k1._domainkey.example.com") == Dkim(
        "example.com", ("selector1", "s2", "k1")
    )


def test_the_full_check_still_takes_a_domain() -> None:
    assert parse("51.158.10.22 example.com") == Check("51.158.10.22", "example.com", "full")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            "dmarc 51.158.10.22",
            "takes a mail domain first, then the address: `dmarc DOMAIN 51.158.10.22`",
        ),
        ("dkim 51.158.10.22 s1", "takes a mail domain, not an address"),
        ("dmarc bob@example.com", "use `dmarc example.com`"),
        ("dmarc example.com not-an-ip", "not an IP address"),
        ("dmarc", "needs more"),
        ("dkim example.com bad/selector", "not a DKIM selector"),
        ("dkim nodot", "not a valid mail domain"),
        ("dkim example.com " + " ".join(f"s{n}" for n in range(11)), "at most 10 selectors"),
    ],
)
def test_slips_get_one_sentence(text: str, words: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(text)
    assert words in str(caught.value)


def test_usage_names_both() -> None:
    text = usage()
    assert "dmarc DOMAIN [IP]" in text and "dkim DOMAIN [SELECTOR...]" in text
