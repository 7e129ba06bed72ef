"""bot.slack.blocks is pure: JSON reports in, Block Kit out, within Slack's limits whatever the input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from bot.changes import changes
from bot.slack import blocks

HOSTILE = "<!channel> & <@U1> <https://evil.example|x>"


def report(
    ip: str = "51.158.10.22", listed: int = 1, txt: str = "spam seen", **extra: Any
) -> dict[str, Any]:
    entries = [
        {
            "zone": f"bl{n}.lists-example.net",
            "list": f"List {n}",
            "codes": ["127.0.0.2"],
            "meanings": ["spam source"],
            "txt": txt,
            "lookup_url": f"https://bl{n}.lists-example.net/?ip={ip}",
        }
        for n in range(listed)
    ]
    return {
        "target": ip,
        "verdict": "fail" if listed else "ok",
        "checks": {
            "dnsbl": {
                "status": "fail" if listed else "ok",
                "summary": f"Listed on {listed} of 60 blocklists",
                "listed": entries,
                "clean": [f"c{n}.example" for n in range(60 - listed)],
                "unavailable": [
                    {"zone": "slow.example", "reason": "timeout", "detail": "no answer"}
                ],
            },
            "ptr": {
                "status": "fail",
                "summary": "No PTR",
                "names": [],
                "forward_confirmed": False,
                "generic": False,
            },
            "spf": {
                "status": "skipped",
                "summary": "no domain",
                "domain": None,
                "result": None,
                "record": None,
            },
        },
        "advice": [{"text": "Ask for removal", "url": "https://example.org/removal"}],
        "checked_at": "2024-05-01T12:00:03+00:00",
        "duration_ms": 412.3,
        "resolver": "127.0.0.1:5353",
        **extra,
    }


def assert_valid(rendered: blocks.Rendered) -> None:
    assert rendered.text
    assert len(rendered.blocks) <= blocks.MAX_BLOCKS
    for raw in rendered.blocks:
        block = Block.parse(raw)
        assert block is not None
        block.validate_json()
        if raw["type"] == "section":
            assert len(raw["text"]["text"]) <= 3000
        if raw["type"] == "actions":
            assert len(raw["elements"]) <= 25
            for element in raw["elements"]:
                assert len(element["text"]["text"]) <= 75
                assert len(element.get("value", "")) <= 2000


def test_everything_from_outside_is_escaped() -> None:
    evil = report(txt=HOSTILE, notes=[HOSTILE], hostname="mail.example.net")
    evil["checks"]["ptr"] = {
        "status": "warn",
        "summary": HOSTILE,
        "names": [HOSTILE],
        "forward_confirmed": True,
    }
    evil["checks"]["dnsbl"]["listed"][0]["list"] = HOSTILE
    evil["checks"]["spf"] = {
        "status": "fail",
        "summary": HOSTILE,
        "domain": "x.example",
        "result": "fail",
        "record": "v=spf1 " + HOSTILE + " ```",
        "lookups": 3,
    }
    rendered = blocks.render([evil], values=[None])
    dumped = json.dumps(rendered.blocks) + rendered.text
    assert "<!channel>" not in dumped and "<@U1>" not in dumped and "<https://evil" not in dumped
    assert "&lt;!channel&gt;" in dumped
    assert_valid(rendered)


def test_long_lists_fold() -> None:
    rendered = blocks.render([report(listed=3)])
    text = json.dumps(rendered.blocks)
    assert "and 57 lists clean" in text and "Could not check 1 list: slow.example (timeout)" in text


def test_unknown_check_renders_generically() -> None:
    custom = report(listed=0)
    custom["checks"]["tlsrpt"] = {"status": "warn", "summary": "No TLS-RPT record"}
    rendered = blocks.render([custom])
    assert "*Tlsrpt*: warn" in json.dumps(rendered.blocks) and "No TLS-RPT record" in rendered.text
    assert_valid(rendered)


def test_two_addresses_of_a_host_name() -> None:
    first = report("51.158.10.22", hostname="mail.example.net")
    second = report("2a01:4f8:10a::25", listed=0, hostname="mail.example.net")
    values = [
        blocks.button_value(r["target"], None, "full", r, hostname="mail.example.net")
        for r in (first, second)
    ]
    rendered = blocks.render([first, second], values=values)
    headers = [b["text"]["text"] for b in rendered.blocks if b["type"] == "header"]
    assert len(headers) == 2 and "mail.example.net (2a01:4f8:10a::25)" in headers[1]
    assert sum(b["type"] == "divider" for b in rendered.blocks) == 1
    assert_valid(rendered)


def test_eight_huge_reports_fit_in_fifty_blocks() -> None:
    many = [report(f"51.158.10.{n}", listed=60, txt="y" * 500) for n in range(1, 9)]
    values = [blocks.button_value(r["target"], "example.com", "full", r) for r in many]
    rendered = blocks.render(many, values=values, changes=["x"] * 400, watch=True)
    assert_valid(rendered)


def test_button_value_round_trips_and_compares() -> None:
    before = report(listed=2)
    value = blocks.button_value("51.158.10.22", "example.com", "full", before)
    data = blocks.read_button_value(value)
    assert data["t"] == "51.158.10.22" and data["d"] == "example.com" and data["s"] == "full"
    after = report(listed=1)
    after["checks"]["dnsbl"]["clean"].append("bl1.lists-example.net")
    assert "delisted from List 1" in changes(data["p"], after)


def test_button_value_degrades_within_2000_characters() -> None:
    huge = report(listed=60)
    huge["checks"]["spf"] = {
        "status": "fail",
        "domain": "x.example",
        "result": "fail",
        "record": "v=spf1 " + "a" * 3000,
    }
    value = blocks.button_value("51.158.10.22", "x.example", "full", huge)
    assert len(value) <= 2000
    data = blocks.read_button_value(value)
    assert data["t"] == "51.158.10.22" and "p" in data


@settings(max_examples=60, deadline=None)
@given(
    st.text(max_size=4000),
    st.integers(min_value=0, max_value=80),
    st.lists(st.text(max_size=300), max_size=50),
)
def test_any_input_stays_valid(junk: str, listed: int, notes: list[str]) -> None:
    wild = report(listed=listed, txt=junk, notes=notes, hostname=junk[:300] or None)
    wild["checks"]["dnsbl"]["summary"] = junk
    wild["checks"][junk[:40] or "x"] = {"status": "error", "summary": junk}
    value = blocks.button_value(wild["target"], None, "full", wild)
    rendered = blocks.render([wild, wild], values=[value, value], changes=[junk], requested_by="U1")
    assert_valid(rendered)
    assert "<!" not in json.dumps(rendered.blocks).replace("<@U1>", "")


def test_progress_and_usage_are_escaped() -> None:
    assert "&lt;!here&gt;" in blocks.progress("<!here>").text
    text = blocks.usage_text("bad <!channel>\n\nUsage:\n/smtpcheck IP")
    assert "&lt;!channel&gt;" in text and text.count("```") == 2


def test_a_host_name_with_many_addresses_is_one_compact_table() -> None:
    def report(n: int, verdict: str) -> dict[str, Any]:
        listed = [{"zone": "zen.spamhaus.org", "list": "Spamhaus ZEN", "meanings": ["SBL: x"]}]
        return {
            "target": f"51.158.10.{n}",
            "hostname": "relay.example-mail.net",
            "verdict": verdict,
            "notes": ["relay.example-mail.net also resolves to 10.0.0.5, a private address."],
            "checks": {
                "dnsbl": {
                    "status": verdict,
                    "summary": "s",
                    "listed": listed if verdict == "fail" else [],
                }
            },
        }

    reports = [report(n, "fail" if n == 30 else "ok") for n in range(16, 36)]
    rendered = blocks.render(reports, values=[None] * 20)
    assert len(rendered.blocks) <= 6
    body = json.dumps(rendered.blocks)
    assert body.count("private address") == 1
    table = rendered.blocks[2]["text"]["text"]
    first = table.splitlines()[0]
    assert "51.158.10.30" in first and "Spamhaus ZEN (SBL)" in first
    assert len(table.splitlines()) == 20
    assert "(20 addresses)" in rendered.blocks[0]["text"]["text"]
    # three or fewer: a full report each
    assert len(blocks.render(reports[:3], values=[None] * 3).blocks) > 6


def test_a_recheck_with_nothing_changed_is_one_line() -> None:
    report = {
        "target": "51.158.10.22",
        "verdict": "fail",
        "checked_at": "2026-12-01T21:00:00+00:00",
        "checks": {"dnsbl": {"status": "fail", "summary": "Listed on 1 of 29 blocklists"}},
    }
    rendered = blocks.render([report], values=["v"], changes=[], requested_by="U1")
    assert len(rendered.blocks) == 1
    text = rendered.blocks[0]["text"]["text"]
    assert text.startswith("Nothing changed since the previous check") and "\n" not in text
    assert "Listed on 1 of 29" not in json.dumps(rendered.blocks)
    changed = blocks.render([report], values=["v"], changes=["newly listed on SpamCop"])
    assert len(changed.blocks) > 1 and "Listed on 1 of 29" in json.dumps(changed.blocks)


def test_link_buttons_name_their_page_and_never_cut_advice() -> None:
    assert blocks.page_label("https://www.rfc-editor.org/rfc/rfc7208#section-4.5") == (
        "RFC 7208 section 4.5"
    )
    assert blocks.page_label("https://www.spamhaus.com/product/data-query-service/") == (
        "Spamhaus Data Query Service"
    )
    assert blocks.page_label("https://www.example-mail.net/help/dns") == (
        "Guide on example-mail.net"
    )
    advice = "x" * 300
    report = {
        "target": "51.158.10.22",
        "verdict": "warn",
        "checks": {"spf": {"status": "warn", "summary": "s"}},
        "advice": [{"text": advice, "url": "https://www.rfc-editor.org/rfc/rfc7208#section-5"}],
    }
    rendered = blocks.render([report], values=[None])
    labels = [
        e["text"]["text"] for b in rendered.blocks if b["type"] == "actions" for e in b["elements"]
    ]
    assert "RFC 7208 section 5" in labels and not any("xxx" in label for label in labels)


@pytest.mark.parametrize("language", ["en", "fr"])
def test_usage_text_splits_the_sentence_from_the_grammar_in_each_language(
    language: str,
) -> None:
    from bot.grammar import usage
    from handlers import i18n

    with i18n.use(language):  # type: ignore[arg-type]
        said = blocks.usage_text(usage("That is not an address."))
    first, _sep, rest = said.partition("\n```")
    assert first.endswith(".") and "```" not in first
    assert rest.endswith("```") and "/smtpcheck" in rest
