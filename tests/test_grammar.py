"""The command grammar shared by Slack and the terminal."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.grammar import (
    Bounce,
    Check,
    Egress,
    Help,
    History,
    Mx,
    Smtp,
    Spf,
    Unwatch,
    UsageError,
    Watch,
    parse,
    unslack,
    usage,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("51.158.10.22", Check("51.158.10.22")),
        ("51.158.10.22 Example.COM.", Check("51.158.10.22", "example.com")),
        ("check 51.158.10.22 example.com", Check("51.158.10.22", "example.com")),
        ("Mail.Example-Mail.net", Check("mail.example-mail.net")),
        ("2A01:4F8:10A::25", Check("2a01:4f8:10a::25")),
        ("bl 51.158.10.22", Check("51.158.10.22", None, "bl")),
        ("ptr 2a01:4f8:10a::25", Check("2a01:4f8:10a::25", None, "ptr")),
        ("spf example.com", Spf("example.com")),
        ("spf example.com 51.158.10.22", Spf("example.com", "51.158.10.22")),
        ("spf not_a..domain", Spf("not_a..domain")),
        ("smtp mx.example-mail.net", Smtp("mx.example-mail.net", 25)),
        ("smtp 51.158.10.22 587", Smtp("51.158.10.22", 587)),
        ("mx example.com", Mx("example.com")),
        ("egress", Egress()),
        ("egress 51.158.10.22", Egress("51.158.10.22")),
        ("watch", Watch()),
        ("watch 51.158.10.22", Watch("51.158.10.22", None, 15)),
        ("watch 51.158.10.22 example.com every 2h", Watch("51.158.10.22", "example.com", 120)),
        ("watch 51.158.10.22 every 30 minutes", Watch("51.158.10.22", None, 30)),
        ("unwatch 51.158.10.22", Unwatch("51.158.10.22")),
        ("history 51.158.10.22", History("51.158.10.22")),
        ("help", Help()),
        ("", Help()),
        ("   ", Help()),
    ],
)
def test_parses(text: str, expected: object) -> None:
    assert parse(text) == expected


def test_bounce_keeps_the_text_whole() -> None:
    text = "554 5.7.1 Service unavailable;\n  Client host [51.158.10.22] blocked using zen.spamhaus.org"
    assert parse(f"bounce {text}") == Bounce(text)


def test_slack_markup_is_undone() -> None:
    assert unslack("<@U123ABC> 51.158.10.22 <http://example.com|example.com>").split() == [
        "51.158.10.22",
        "example.com",
    ]
    assert (
        unslack("<mailto:postmaster@example.com|postmaster@example.com>")
        == "postmaster@example.com"
    )
    assert unslack("a &lt;b&gt; &amp; c") == "a <b> & c"
    assert parse("<@U0BOT> 51.158.10.22 <http://example.com|example.com>") == Check(
        "51.158.10.22", "example.com"
    )
    assert parse("spf <http://example.com|example.com>") == Spf("example.com")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("999.1.1.1", "looks like an IPv4 address but is not a valid one"),
        ("1.2.3", "looks like an IPv4 address"),
        ("2001:db8::zz::1", "looks like an IPv6 address"),
        ("localhost", "neither an IP address nor a host name with a dot"),
        ("10.1.2.3", "private"),
        ("192.168.1.10", "private"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("240.0.0.1", "reserved"),
        ("192.0.2.10", "reserved"),
        ("169.254.169.254", "cloud metadata"),
        ("100.64.1.1", "carrier-grade NAT"),
        ("51.158.10.22 not_a_domain", "not a valid mail domain"),
        ("51.158.10.22 example.com extra", "at most 1 word"),
        ("bl", "needs more"),
        ("smtp mx.example.net 70000", "not a port number"),
        ("watch 51.158.10.22 every 1m", "no more often than every 5 minutes"),
        ("watch 51.158.10.22 every 9d", "at least once a day"),
        ("watch 51.158.10.22 every soon", "could not read the interval"),
        ("watch every 15m", "Say which address"),
        ("bounce", "Paste the bounce"),
    ],
)
def test_bad_input_gets_one_sentence(text: str, says: str) -> None:
    with pytest.raises(UsageError) as info:
        parse(text)
    message = str(info.value)
    assert says in message
    assert "\n" not in message and message.endswith(".")


def test_long_words_are_shortened_in_errors() -> None:
    with pytest.raises(UsageError) as info:
        parse("x" * 5000)
    assert len(str(info.value)) < 200


def test_usage_lists_every_verb() -> None:
    text = usage("Oops.")
    assert text.startswith("Oops.")
    for verb in (
        "bl IP",
        "ptr IP",
        "spf DOMAIN",
        "smtp HOST",
        "mx DOMAIN",
        "egress",
        "bounce",
        "watch",
        "unwatch",
        "history",
        "help",
    ):
        assert verb in text


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_parse_never_crashes(text: str) -> None:
    """Any text gives a Command or a UsageError with one short line, never another exception."""
    try:
        command = parse(text)
    except UsageError as exc:
        assert str(exc) and len(str(exc)) < 400
    else:
        assert command is not None


_word = st.sampled_from(
    [
        "bl",
        "ptr",
        "spf",
        "smtp",
        "mx",
        "egress",
        "bounce",
        "watch",
        "unwatch",
        "history",
        "help",
        "every",
        "15m",
        "51.158.10.22",
        "2a01:4f8::1",
        "example.com",
        "999.1.1.1",
        "10.0.0.1",
        "<@U1>",
        "25",
        "x.y",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_word, max_size=6))
def test_fuzz_grammar_words(words: list[str]) -> None:
    """Plausible word salads: targets that parse are always valid public addresses or names."""
    try:
        command = parse(" ".join(words))
    except UsageError:
        return
    if isinstance(command, Check):
        assert command.target not in ("999.1.1.1", "10.0.0.1")


# ---- what people paste -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[2a01:4f8::25]", Check("2a01:4f8::25")),
        ("<51.158.10.22>", Check("51.158.10.22")),
        ("51.158.10.22,", Check("51.158.10.22")),
        ("'51.158.10.22';", Check("51.158.10.22")),
        ("(51.158.10.22)", Check("51.158.10.22")),
        ("\u200b51.158.10.22\ufeff", Check("51.158.10.22")),
        ("51.158.10.\u200d22", Check("51.158.10.22")),
        ("2a01:4f8::", Check("2a01:4f8::")),
        ("bl <51.158.10.22>.", Check("51.158.10.22", None, "bl")),
        ("51.158.10.22 example.com.", Check("51.158.10.22", "example.com")),
        ("51.158.10.22 <example.com>,", Check("51.158.10.22", "example.com")),
        ("https://mail.example.com/owa/", Check("mail.example.com")),
        ("http://[2a01:4f8::25]:8080/x", Check("2a01:4f8::25")),
        ("spf example.com, 51.158.10.22.", Spf("example.com", "51.158.10.22")),
        ("mx <https://example.com>", Mx("example.com")),
        ("history [51.158.10.22]", History("51.158.10.22")),
    ],
)
def test_pasted_words_are_read_as_meant(text: str, expected: object) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    "word", ["::ffff:51.158.10.22", "::ffff:339e:a16", "[::FFFF:51.158.10.22]"]
)
def test_ipv4_mapped_addresses_are_their_ipv4_address_with_a_note(word: str) -> None:
    command = parse(word)
    assert isinstance(command, Check)
    assert command.target == "51.158.10.22"
    assert command.notes and "IPv4-mapped form of 51.158.10.22" in command.notes[0]
    assert parse(f"watch {word}") == Watch("51.158.10.22")


def test_internationalised_names_are_asked_as_a_labels_and_shown_as_typed() -> None:
    command = parse("münchen-post.de")
    assert command == Check("xn--mnchen-post-thb.de", display="münchen-post.de")
    assert parse("51.158.10.22 Straße.de") == Check("51.158.10.22", "xn--strae-oqa.de")
    assert parse("spf münchen-post.de") == Spf("xn--mnchen-post-thb.de", display="münchen-post.de")
    assert parse("mx münchen-post.de") == Mx("xn--mnchen-post-thb.de", display="münchen-post.de")
    with pytest.raises(UsageError):
        parse("mx ☃☃.example")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("smtp mx.example-mail.net:2525", Smtp("mx.example-mail.net", 2525)),
        ("smtp [2a01:4f8::25]:587", Smtp("2a01:4f8::25", 587)),
        ("smtp 2a01:4f8::25", Smtp("2a01:4f8::25", 25)),
        ("smtp 51.158.10.22:465", Smtp("51.158.10.22", 465)),
        ("smtp <mx.example-mail.net> 587", Smtp("mx.example-mail.net", 587)),
        ("smtp münchen-post.de:25", Smtp("xn--mnchen-post-thb.de", 25, display="münchen-post.de")),
    ],
)
def test_smtp_host_port_as_pasted(text: str, expected: Smtp) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("northwind-traders.com 51.158.10.22", "`51.158.10.22 northwind-traders.com`"),
        ("spf 51.158.10.20", "`spf` takes a domain first"),
        ("spf 51.158.10.22 example.com", "`spf example.com 51.158.10.22`"),
        (
            "spf bob@example.com",
            "the domain of bob@example.com is example.com, so use `spf example.com`",
        ),
        ("spf bob@example.com 51.158.10.22", "`spf example.com 51.158.10.22`"),
        ("bob@example.com", "is a mail address, not a server"),
        ("51.158.10.22 bob@example.com", "the domain is example.com: use `example.com`"),
        ("smtp mx.example.com:2525 587", "Give the port once"),
        ("smtp mx.example.com:99999", "is not a port number"),
        ("mx 51.159.20.30", "use `ptr 51.159.20.30`, or `smtp 51.159.20.30` to probe it"),
        ("dkim 51.159.20.30", "`ptr 51.159.20.30` gives its name and `smtp 51.159.20.30`"),
        ("dkim 51.159.20.30 example.com s1", "`dkim example.com s1`"),
        ("dmarc 51.159.20.30", "`dmarc DOMAIN 51.159.20.30`"),
        ("dmarc 51.159.20.30 example.com", "`dmarc example.com 51.159.20.30`"),
        ("spf 'exa mple.com'", "“exa mple.com” has a space in it"),
        ("spf 'exa mple.com'", "write `spf example.com`"),
        ('spf "exa mple.com" 51.158.10.22', "write `spf example.com 51.158.10.22`"),
        ("spf “exa mple.com”", "write `spf example.com`"),
        ("51.158.10.22 'exa mple.com'", "write `51.158.10.22 example.com`"),
        ("smtp 'm x.example.com' 587", "write `smtp mx.example.com 587`"),
        ("spf 'a b'", "“a b” has a space in it, and no address or domain has one."),
    ],
)
def test_recognisable_slips_get_a_suggestion(text: str, says: str) -> None:
    with pytest.raises(UsageError) as info:
        parse(text)
    assert says in str(info.value)


def test_a_quoted_pool_name_stays_a_pool_name() -> None:
    from bot.grammar import Monitor

    assert parse('monitor "Frankfurt egress" every 2h') == Monitor("Frankfurt egress", 120)
    assert parse("spf 'example.com") == Spf("example.com")  # a quote never closed
    # A quoted span whose pieces each stand alone is those words.
    assert parse('"51.158.10.22 example.com"') == Check("51.158.10.22", "example.com")
    assert parse("spf 'example.com 51.158.10.22'") == Spf("example.com", "51.158.10.22")


@pytest.mark.parametrize(
    ("text", "ports", "expected"),
    [
        ("smtp mx.example.com 2526", (2526,), Smtp("mx.example.com", 2526)),
        ("smtp mx.example.com:2526", (25, 2526), Smtp("mx.example.com", 2526)),
        ("smtp mx.example.com", (25, 2526), Smtp("mx.example.com", 25)),
        ("smtp mx.example.com 587", (25, 465, 587, 2525), Smtp("mx.example.com", 587)),
    ],
)
def test_smtp_takes_the_ports_it_is_given(
    text: str, ports: tuple[int, ...], expected: Smtp
) -> None:
    assert parse(text, ports=ports) == expected


@pytest.mark.parametrize(
    ("text", "ports", "says"),
    [
        ("smtp mx.example.com 25", (2526,), "connects only to port 2526 here, not to 25."),
        ("smtp mx.example.com", (2526,), "connects only to port 2526 here, not to 25."),
        ("smtp mx.example.com:587", (2526, 25), "only to ports 2526 or 25 here, not to 587."),
        ("smtp mx.example.com 8025", (25, 465, 587, 2525), "ports 25, 465, 587 or 2525 here"),
        (
            "smtp mx.example.com x",
            (2526, 25),
            "x is not a port number: the SMTP probe connects to ports 2526 or 25.",
        ),
        (
            "smtp mx.example.com 0",
            (2526,),
            "0 is not a port number: the SMTP probe connects to port 2526.",
        ),
    ],
)
def test_a_refused_port_names_the_ports_given(text: str, ports: tuple[int, ...], says: str) -> None:
    with pytest.raises(UsageError) as info:
        parse(text, ports=ports)
    assert says in str(info.value)


def test_the_terminal_takes_any_port_whatever_the_ports() -> None:
    assert parse("smtp mx.example.com 8025", any_port=True, ports=(25,)) == Smtp(
        "mx.example.com", 8025
    )


def test_monitor_takes_a_range_up_to_a_slash_22_or_a_pool_name() -> None:
    from bot.grammar import Monitor, Unmonitor

    assert parse("monitor 51.158.10.0/22") == Monitor("51.158.8.0/22", 60)
    assert parse("monitor 51.158.10.0/24 every 2h") == Monitor("51.158.10.0/24", 120)
    assert parse("monitor 51.158.10.5") == Monitor("51.158.10.5/32", 60)
    assert parse("monitor scaleway-par every 15m") == Monitor("scaleway-par", 15)
    assert parse("monitor Frankfurt egress every 2h") == Monitor("Frankfurt egress", 120)
    assert parse("unmonitor 51.158.10.0/24") == Unmonitor("51.158.10.0/24")
    for text, words in [
        ("monitor 51.158.0.0/21", "up to /22"),
        ("monitor 51.158.10.0/24 every 5m", "every 15 minutes"),
        ("monitor", "Say what to monitor"),
        ("monitor 10.0.0.0/24", "private"),
        ("monitor b?d", "neither a range"),  # (`<b>` is read as pasted: b, a pool name)
        ("monitor 51.158.10.0/24 extra", "at most 1 word"),
    ]:
        with pytest.raises(UsageError) as info:
            parse(text)
        assert words in str(info.value), str(info.value)
