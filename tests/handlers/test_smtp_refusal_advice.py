"""A probe refused for its port gets advice about ports, not about public addresses, and
every refusal's advice is made of sentences that start with a capital, in both languages
(the French used to read "…d’un réseau. le port 8080 n’est pas…")."""

from __future__ import annotations

import asyncio
import re

import pytest

from handlers.i18n import Language, use
from handlers.settings import Settings
from handlers.smtp import probe_smtp

SENTENCE_START = re.compile(r"(?:^|[.!?]\s+)(\w)")


def advice(host: str, port: int, language: Language) -> list[str]:
    with use(language):
        result = asyncio.run(probe_smtp(host, port, None, Settings()))  # type: ignore[arg-type]
    assert result.failure == "forbidden"
    return [a.text for a in result.advice]


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_port_refusal_talks_about_ports(language: Language) -> None:
    (text,) = advice("192.0.2.1", 8080, language)
    assert "8080" in text and "SMTPCHECK_SMTP_PORTS" in text
    assert "public" not in text and "publiques" not in text
    assert text.startswith("Port 8080" if language == "en" else "Le port 8080")


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize(("host", "port"), [("192.0.2.1", 8080), ("127.0.0.1", 25)])
def test_refusal_advice_sentences_start_with_a_capital(
    host: str, port: int, language: Language
) -> None:
    for text in advice(host, port, language):
        for first in SENTENCE_START.findall(text):
            assert not first.islower(), text


@pytest.mark.parametrize("language", ["en", "fr"])
def test_an_address_refusal_still_says_why(language: Language) -> None:
    (text,) = advice("127.0.0.1", 25, language)
    assert "127.0.0.1" in text and ("public" in text or "publiques" in text)
