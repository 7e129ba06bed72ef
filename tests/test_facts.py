"""SMTP, MX, egress and bounce facts in both renderers, hostile text included."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import Block

from bot.slack import blocks
from bot.terminal.text import render

HOSTILE = "<!channel> \x1b[2J *bold* <https://evil.example|click>"


def report(name: str, check: dict[str, Any]) -> dict[str, Any]:
    return {
        "target": "mx.example-mail.net",
        "verdict": check["status"],
        "checks": {name: check},
        "advice": [],
    }


SMTP = {
    "status": "warn",
    "summary": "SMTP answers, but offers no STARTTLS",
    "host": "mx.example-mail.net",
    "address": "51.158.10.25",
    "port": 25,
    "connect_ms": 41.7,
    "banner": f"220 mx.example-mail.net ESMTP {HOSTILE}",
    "extensions": ["PIPELINING", "8BITMIME"],
    "starttls": False,
    "tls": None,
    "failure": None,
    "steps": [
        {
            "name": "EHLO",
            "sent": "EHLO x",
            "code": 250,
            "reply": "250 mx",
            "status": "ok",
            "ms": 3.1,
        }
    ],
    "ptr": "mx.example-mail.net",
    "banner_host": "mx.example-mail.net",
    "banner_matches_ptr": True,
    "probed_from": "bot-host",
}
MX = {
    "status": "ok",
    "summary": "2 MX hosts, all accept connections",
    "domain": "example-mail.net",
    "implicit": False,
    "null_mx": False,
    "hosts": [
        {
            "preference": 10,
            "host": "mx1.example-mail.net",
            "addresses": ["51.158.10.25"],
            "status": "ok",
            "summary": "ok",
            "connect_ms": 12.0,
            "tls_version": "TLSv1.3",
        },
        {
            "preference": 20,
            "host": "mx2.example-mail.net",
            "addresses": [],
            "status": "fail",
            "summary": "does not resolve",
            "connect_ms": None,
        },
    ],
}
BOUNCE = {
    "status": "fail",
    "summary": "Microsoft rejected mail from 51.158.10.22: on a blocklist",
    "ips": ["51.158.10.22"],
    "reply_code": "550",
    "enhanced_code": "5.7.606",
    "receiver": "Microsoft",
    "blocklists": [],
    "kind": "blocklist",
    "explanation": "Microsoft's own list blocks the address; ask for delisting.",
}
EGRESS = {
    "status": "fail",
    "summary": "SMTP leaves from 51.158.10.30, not 51.158.10.22",
    "reference": "mx.reference.example:25",
    "seen_ip": "51.158.10.30",
    "expected": "51.158.10.22",
    "matches": False,
    "note": "Meaningful where the bot runs inside the network it checks.",
}


def test_terminal_shows_the_facts_and_obeys_no_control_character() -> None:
    text = render(report("smtp", SMTP))
    assert "connected to 51.158.10.25:25 in 42 ms (probe ran from bot-host)" in text
    assert "banner name mx.example-mail.net matches PTR mx.example-mail.net" in text
    assert "STARTTLS not offered" in text and "EHLO: 250 mx [ok]" in text and "250 250" not in text
    assert "\x1b" not in text
    mx = render(report("mx", MX))
    assert " 10 mx1.example-mail.net (51.158.10.25): OK 12 ms, TLSv1.3" in mx
    assert "mx2.example-mail.net (no address): FAIL" in mx
    assert "550 5.7.606 from Microsoft; kind: blocklist" in render(report("bounce", BOUNCE))
    assert "does NOT match" in render(report("egress", EGRESS))


def test_slack_shows_the_same_facts_escaped() -> None:
    for name, check in (("smtp", SMTP), ("mx", MX), ("bounce", BOUNCE), ("egress", EGRESS)):
        rendered = blocks.render([report(name, check)])
        dumped = json.dumps(rendered.blocks)
        for raw in rendered.blocks:
            assert Block.parse(raw) is not None  # type: ignore[arg-type]
        assert "<!channel>" not in dumped and "<https://evil" not in dumped
    smtp = json.dumps(blocks.render([report("smtp", SMTP)]).blocks)
    assert "&lt;!channel&gt;" in smtp and "connected to 51.158.10.25:25" in smtp
    assert "does NOT match" in json.dumps(blocks.render([report("egress", EGRESS)]).blocks)
    assert "null MX" in render(report("mx", {**MX, "null_mx": True, "status": "fail"}))


def test_spf_warnings_with_their_fix_in_both_renderers() -> None:
    spf = {
        "status": "warn",
        "summary": "SPF record of example-mail.net has 1 warning",
        "domain": "example-mail.net",
        "result": None,
        "record": "v=spf1 ptr ?all",
        "lookups": 1,
        "warnings": [
            {
                "code": "ptr_mechanism",
                "text": "The ptr mechanism is slow and deprecated <!here>.",
                "fix": "Replace ptr with ip4:/ip6: terms.",
                "rfc": "RFC 7208 5.5",
            },
        ],
    }
    text = render(report("spf", spf))
    assert (
        "warning: The ptr mechanism is slow" in text
        and "fix: Replace ptr with ip4:/ip6: terms." in text
    )
    dumped = json.dumps(blocks.render([report("spf", spf)]).blocks)
    assert "Replace ptr with ip4:/ip6: terms." in dumped and "<!here>" not in dumped
