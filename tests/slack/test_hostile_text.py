"""Text from others cannot link, format or disguise, in Slack or in the terminal.

One report with hostile text in every field that comes from outside: TXT reasons, PTR
names, SMTP banners and replies, SPF records and explanations, a bounce, and the target
and domain the person typed. Rendered for Slack and for the terminal, none of it may
become a link, a mention or formatting, and no bidi control or zero-width character
survives to disguise a name.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bot.slack import blocks
from bot.terminal.text import render_all

URL = "https://evil.example/login"
SNEAKY = "\u202egro.elpmaxe\u2066 \u200bpay\u200dpal\ufeff"
HOSTILE = f"{URL} *bold* _it_ ~gone~ <!channel> <{URL}|click> {SNEAKY} &amp;"
INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u00ad]")


def hostile_report() -> dict[str, Any]:
    return {
        "target": "51.158.10.22",
        "verdict": "fail",
        "checks": {
            "dnsbl": {
                "status": "fail",
                "summary": "Listed on 1 of 60 blocklists",
                "listed": [
                    {
                        "zone": "bl.lists-example.net",
                        "list": "List X",
                        "codes": ["127.0.0.2"],
                        "meanings": ["spam source"],
                        "txt": HOSTILE,
                        "lookup_url": "https://bl.lists-example.net/?ip=51.158.10.22",
                    }
                ],
                "clean": [],
                "unavailable": [],
            },
            "ptr": {
                "status": "warn",
                "summary": "PTR looks generic",
                "names": [f"{SNEAKY}.example-mail.net", HOSTILE],
                "forward_confirmed": True,
                "generic": True,
            },
            "spf": {
                "status": "fail",
                "summary": "SPF fail",
                "domain": f"example-mail.net{SNEAKY}",
                "result": "fail",
                "record": f"v=spf1 exp=explain.{SNEAKY} -all {HOSTILE}",
                "explanation": HOSTILE,
            },
            "smtp": {
                "status": "warn",
                "summary": "Banner does not match",
                "address": "51.158.10.22",
                "port": 25,
                "banner": f"220 {HOSTILE}",
                "banner_host": HOSTILE,
                "steps": [{"name": "EHLO", "code": 250, "reply": HOSTILE, "status": "ok"}],
            },
            "bounce": {
                "status": "fail",
                "summary": "Rejected by a blocklist",
                "reply_code": 550,
                "enhanced_code": "5.7.1",
                "receiver": "mx.example",
                "kind": "blocklist",
                "explanation": HOSTILE,
            },
        },
        "advice": [],
    }


def mrkdwn_texts(node: Any) -> list[dict[str, Any]]:
    """Every mrkdwn text object in a Block Kit structure."""
    found = []
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            found.append(node)
        for value in node.values():
            found += mrkdwn_texts(value)
    elif isinstance(node, list):
        for value in node:
            found += mrkdwn_texts(value)
    return found


def outside_code(text: str) -> str:
    """`text` without its code spans and blocks (where mrkdwn formats nothing)."""
    return re.sub(r"```.*?```|`[^`]*`", "", text, flags=re.S)


def test_slack_shows_hostile_text_as_text() -> None:
    rendered = blocks.render([hostile_report()], values=[None])
    texts = mrkdwn_texts(rendered.blocks)
    assert texts
    # Every mrkdwn object is verbatim: a bare URL or #channel from data is not auto-linked.
    assert all(t.get("verbatim") is True for t in texts), [
        t for t in texts if not t.get("verbatim")
    ]
    everything = json.dumps(rendered.blocks, ensure_ascii=False) + rendered.text
    assert not INVISIBLE.search(everything)
    for t in texts:
        body = t["text"]
        # No link or mention syntax from data: < and > arrive as entities.
        assert "<!channel>" not in body and f"<{URL}" not in body
        # Data's formatting marks and bare URLs appear only inside code spans.
        bare = outside_code(body)
        assert URL not in bare, body
        assert "*bold*" not in bare and "_it_" not in bare and "~gone~" not in bare, body
    # The words themselves still reach the reader (escaped, visible).
    assert "evil.example/login" in everything and "&amp;lt;!channel&amp;gt;" not in everything
    assert "&lt;!channel&gt;" in everything


def test_the_typed_target_is_escaped_and_visible() -> None:
    said = blocks.progress(f"<!here> {SNEAKY}")
    text = json.dumps(said.blocks, ensure_ascii=False)
    assert "<!here>" not in text and "&lt;!here&gt;" in text
    assert not INVISIBLE.search(text + said.text)
    assert all(t.get("verbatim") for t in mrkdwn_texts(said.blocks))


def test_terminal_shows_hostile_text_without_disguise() -> None:
    out = render_all([hostile_report()], colour=False)
    assert not INVISIBLE.search(out)
    assert "\x1b" not in out
    assert "gro.elpmaxe" in out and "paypal" in out  # the characters that are there, in order


def test_terminal_control_characters_are_shown_not_obeyed() -> None:
    report = hostile_report()
    report["checks"]["dnsbl"]["listed"][0]["txt"] = "spam\x1b[2J\x1b]8;;https://evil.example\x07x"
    out = render_all([report], colour=False)
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b" in out


def test_headers_and_buttons_drop_bidi_and_zero_width_characters() -> None:
    """`/smtpcheck spf \u202eten.liam-elpmaxe` once put the override in the report's header
    (a plain_text field, which esc() never saw): the name read backwards there only."""
    spf_only = hostile_report()
    spf_only["target"] = f"{SNEAKY}.example-mail.net"  # what `spf DOMAIN` reports on
    spf_only["checks"] = {"spf": spf_only["checks"]["spf"]}
    named = hostile_report()
    named["checks"]["dnsbl"]["listed"][0]["list"] = f"List {SNEAKY}"  # a button label
    host = {**hostile_report(), "hostname": f"mx.{SNEAKY}.example"}
    for rendered in (
        blocks.render([spf_only], values=[None]),
        blocks.render([named], values=[None]),
        blocks.host_table(f"mx.{SNEAKY}.example", [host] * 4),
    ):
        shown = json.dumps(rendered.blocks, ensure_ascii=False)
        assert not INVISIBLE.search(shown), shown
        assert "gro.elpmaxe" in shown
