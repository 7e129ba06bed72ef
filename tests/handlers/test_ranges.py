"""Ranges: the parser's limits, and blocklists for every address over the loopback DNS server."""

from __future__ import annotations

import csv
import io
import ipaddress

import pytest

from handlers.catalogue import builtin
from handlers.dns.resolver import Resolver
from handlers.dnsbl import SelfTestCache, query_name
from handlers.ranges import (
    IPV6_REASON,
    RangeError,
    check_range,
    looks_like_range,
    parse_range,
    range_addresses,
)
from handlers.settings import Settings
from tests.support.dns_server import DnsServer

ZEN = next(z for z in builtin() if z.zone == "zen.spamhaus.org")
SPAMCOP = next(z for z in builtin() if z.zone == "bl.spamcop.net")
BARRACUDA = next(z for z in builtin() if z.zone == "b.barracudacentral.org")
ZONES = (ZEN, SPAMCOP, BARRACUDA)
NET = "51.158.10.0/29"


def healthy(server: DnsServer, *zones: str) -> None:
    for zone in zones:
        server.add(query_name("127.0.0.2", zone), "A", "127.0.0.2")


# ---- parsing -------------------------------------------------------------------------------


def test_parse_accepts_24_to_32() -> None:
    assert parse_range("51.158.10.0/24").num_addresses == 256
    assert range_addresses("51.158.10.0/30") == [
        "51.158.10.0",
        "51.158.10.1",
        "51.158.10.2",
        "51.158.10.3",
    ]
    assert range_addresses("51.158.10.22/32") == ["51.158.10.22"]
    assert len(range_addresses("51.158.10.64/26")) == 64  # first and last checked too


def test_host_bits_are_taken_as_the_network() -> None:
    assert str(parse_range(" 51.158.10.22/26 ")) == "51.158.10.0/26"


def test_larger_than_24_refused_with_the_size() -> None:
    with pytest.raises(RangeError) as info:
        parse_range("51.158.0.0/16")
    text = str(info.value)
    assert "65,536 addresses" in text and "/24" in text and "split" in text


def test_ipv6_refused_with_the_reason() -> None:
    with pytest.raises(RangeError) as info:
        parse_range("2a01:4f8:10a::/64")
    assert IPV6_REASON in str(info.value)
    with pytest.raises(RangeError, match="IPv6"):
        parse_range("2a01:4f8:10a::25/128")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("10.1.2.0/24", "is a private range"),
        ("127.0.0.0/29", "is a loopback range"),
        ("192.168.7.0/30", "is a private range"),
        ("100.64.1.0/24", "shared (carrier-grade NAT)"),
        ("169.254.169.252/30", "includes 169.254.169.252, a link-local address"),
    ],
)
def test_non_public_ranges_refused_like_addresses(text: str, reason: str) -> None:
    with pytest.raises(RangeError) as info:
        parse_range(text)
    assert reason in str(info.value)
    assert "public internet addresses" in str(info.value)


@pytest.mark.parametrize("text", ["999.1.1.0/24", "51.158.10.0/33", "51.158.10.0/x", "51.158.10.0"])
def test_malformed_ranges_refused(text: str) -> None:
    with pytest.raises(RangeError):
        parse_range(text)


def test_looks_like_range() -> None:
    assert looks_like_range("51.158.10.0/26")
    assert not looks_like_range("51.158.10.22")
    assert not looks_like_range("/24")


# ---- checking -------------------------------------------------------------------------------


async def test_check_range_lists_listed_first_with_their_lists(
    dns_server: DnsServer, resolver: Resolver
) -> None:
    healthy(dns_server, *(z.zone for z in ZONES))
    dns_server.add(query_name("51.158.10.5", "zen.spamhaus.org"), "A", "127.0.0.2")
    dns_server.add(query_name("51.158.10.5", "bl.spamcop.net"), "A", "127.0.0.2")
    dns_server.add(query_name("51.158.10.3", "zen.spamhaus.org"), "A", "127.0.0.10")
    calls: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        calls.append((done, total))

    result = await check_range(
        NET, resolver, Settings(catalogue=ZONES), progress, cache=SelfTestCache()
    )
    assert (result.network, result.addresses, result.lists) == (NET, 8, 3)
    assert (result.listed, result.clean, result.unchecked) == (2, 6, 0)
    assert result.status == "fail"
    assert result.summary == "6 addresses clean on all 3 lists; 2 listed (1 on policy lists only)"
    first, second, *rest = result.rows
    assert (first.address, first.status, first.lists) == (
        "51.158.10.5",
        "fail",
        ("Spamhaus ZEN", "SpamCop"),
    )
    assert (second.address, second.status, second.lists) == (
        "51.158.10.3",
        "warn",
        ("Spamhaus ZEN",),
    )
    assert [r.address for r in rest] == [f"51.158.10.{i}" for i in (0, 1, 2, 4, 6, 7)]
    assert all(r.status == "ok" and not r.lists for r in rest)
    assert calls[0] == (0, 8) and calls[-1] == (8, 8) and len(calls) == 9
    # one advice per list naming its addresses, not one per address
    texts = [a.text for a in result.advice]
    assert any(
        "SpamCop lists 1 address of 51.158.10.0/29 for bad reputation (51.158.10.5" in t
        for t in texts
    )
    assert any(
        "Spamhaus ZEN lists 1 address of 51.158.10.0/29 for bad reputation" in t for t in texts
    )
    assert any("Spamhaus ZEN lists 1 address of 51.158.10.0/29 by policy only" in t for t in texts)

    rows = list(csv.reader(io.StringIO(result.to_csv())))
    assert rows[0] == ["address", "status", "lists", "unavailable", "kind", "codes"]
    assert rows[1] == [
        "51.158.10.5",
        "fail",
        "Spamhaus ZEN; SpamCop",
        "",
        "reputation",
        "Spamhaus ZEN 127.0.0.2 SBL; SpamCop 127.0.0.2",
    ]
    assert rows[2] == [
        "51.158.10.3",
        "warn",
        "Spamhaus ZEN",
        "",
        "policy",
        "Spamhaus ZEN 127.0.0.10 PBL",
    ]
    assert len(rows) == 9 and rows[-1] == ["51.158.10.7", "ok", "", "", "", ""]
    table = result.table().splitlines()
    assert table[1].split()[:2] == ["51.158.10.5", "fail"] and len(table) == 9
    assert result.to_json()["rows"][0]["address"] == "51.158.10.5"


async def test_self_test_asked_once_per_list_not_per_address(
    dns_server: DnsServer, resolver: Resolver
) -> None:
    healthy(dns_server, *(z.zone for z in ZONES))
    await check_range(NET, resolver, Settings(catalogue=ZONES), cache=SelfTestCache())
    for zone in ZONES:
        for point in ("127.0.0.2", "127.0.0.1"):
            assert len(dns_server.questions(query_name(point, zone.zone))) == 1
        for i in range(8):
            assert len(dns_server.questions(query_name(f"51.158.10.{i}", zone.zone))) == 1


async def test_a_silent_list_makes_addresses_unchecked_not_clean(dns_server: DnsServer) -> None:
    healthy(dns_server, "zen.spamhaus.org", "bl.spamcop.net")
    dns_server.misbehave("b.barracudacentral.org", "timeout")
    resolver = Resolver([(dns_server.host, dns_server.port)], timeout=0.3)
    failing: list[int] = []

    def progress(done: int, total: int) -> None:  # a sync callback that breaks is only logged
        failing.append(done)
        raise RuntimeError("display gone")

    result = await check_range(
        "51.158.10.8/30", resolver, Settings(catalogue=ZONES), progress, cache=SelfTestCache()
    )
    assert (result.clean, result.unchecked, result.listed) == (0, 4, 0)
    assert all(r.unavailable == ("b.barracudacentral.org",) for r in result.rows)
    assert "4 not fully checked" in result.summary
    assert failing == [0, 1, 2, 3, 4]


async def test_check_range_refuses_what_the_parser_refuses(resolver: Resolver) -> None:
    with pytest.raises(RangeError):
        await check_range("10.0.0.0/30", resolver, Settings(catalogue=ZONES))
    with pytest.raises(RangeError):
        await check_range(
            ipaddress.IPv4Network("51.158.0.0/23"), resolver, Settings(catalogue=ZONES)
        )


# ---- the grammar and the terminal ------------------------------------------------------------


def test_grammar_routes_ranges() -> None:
    from bot.grammar import Range, UsageError, parse

    assert parse("51.158.10.0/26") == Range("51.158.10.0/26")
    assert parse("bl 51.158.10.9/26") == Range("51.158.10.0/26")
    for text, words in [
        ("51.158.0.0/22", "1,024 addresses"),
        ("ptr 51.158.10.0/26", "`bl 51.158.10.0/26`"),
        ("51.158.10.0/26 example-mail.net", "blocklists only"),
        ("2a01:4f8:10a::/48", IPV6_REASON),
        ("192.168.1.0/24", "private range"),
    ]:
        with pytest.raises(UsageError) as info:
            parse(text)
        assert words in str(info.value)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_prints_summary_and_table_with_a_bar_on_a_terminal(
    dns_server: DnsServer,
) -> None:
    from bot.terminal.cli import main

    dns_server.add(query_name("51.158.10.2", "bl.spamcop.net"), "A", "127.0.0.2")
    out, err = io.StringIO(), Terminal()
    code = main(["51.158.10.0/30"], stdout=out, stderr=err)
    text = out.getvalue()
    assert code == 2, text + err.getvalue()
    lines = text.splitlines()
    assert lines[0] == "51.158.10.0/30: FAIL"
    assert lines[1].startswith("3 addresses clean on all ") and lines[1].endswith("; 1 listed")
    assert lines[4].split()[:4] == ["51.158.10.2", "fail", "reputation", "SpamCop"]
    assert "4/4 addresses" in err.getvalue() and "[" in err.getvalue()

    out, err = io.StringIO(), io.StringIO()  # not a terminal: no bar; JSON on request
    assert main(["bl", "51.158.10.0/30", "--json"], stdout=out, stderr=err) == 2
    assert err.getvalue() == ""
    import json

    report = json.loads(out.getvalue())
    assert report["target"] == "51.158.10.0/30"
    assert report["checks"]["range"]["rows"][0]["address"] == "51.158.10.2"


def test_terminal_csv_of_a_range(dns_server: DnsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """`smtpcheck RANGE --csv`: one row per address, listed first, ready for a spreadsheet."""
    from bot.terminal.cli import main

    monkeypatch.setenv("SMTPCHECK_TIMEOUT", "0.5")
    dns_server.add(query_name("51.158.40.3", "bl.spamcop.net"), "A", "127.0.0.2")
    out, err = io.StringIO(), io.StringIO()
    code = main(["51.158.40.0/30", "--csv"], stdout=out, stderr=err)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert code == 2, err.getvalue()
    assert rows[0] == ["address", "status", "lists", "unavailable", "kind", "codes"]
    assert rows[1][0] == "51.158.40.3" and rows[1][1] == "fail" and "SpamCop" in rows[1][2]
    assert sorted(r[0] for r in rows[1:]) == [f"51.158.40.{n}" for n in range(4)]
    out, err = io.StringIO(), io.StringIO()
    assert main(["51.158.40.3", "--csv"], stdout=out, stderr=err) == 3
    assert "--csv applies to ranges" in err.getvalue()


async def test_each_address_is_classified_by_its_own_codes(
    dns_server: DnsServer, resolver: Resolver
) -> None:
    """On one list, SBL/XBL on one address and PBL on another are never lumped as "policy"."""
    healthy(dns_server, *(z.zone for z in ZONES))
    zen = "zen.spamhaus.org"
    dns_server.add(query_name("51.158.10.2", zen), "A", "127.0.0.2", "127.0.0.4")
    dns_server.add(query_name("51.158.10.3", zen), "A", "127.0.0.10")
    dns_server.add(query_name("51.158.10.4", zen), "A", "127.0.0.10", "127.0.0.11")
    dns_server.add(query_name("51.158.10.5", zen), "A", "127.0.0.2", "127.0.0.10")
    dns_server.add(query_name("51.158.10.6", "b.barracudacentral.org"), "A", "127.0.0.2")
    result = await check_range(NET, resolver, Settings(catalogue=ZONES), cache=SelfTestCache())
    by_address = {r.address: r for r in result.rows}
    assert by_address["51.158.10.2"].kind == "reputation"
    assert by_address["51.158.10.5"].kind == "reputation"  # SBL beside PBL is reputation
    assert by_address["51.158.10.3"].kind == "policy"
    assert by_address["51.158.10.4"].codes_text() == "Spamhaus ZEN 127.0.0.10 PBL, 127.0.0.11 PBL"
    assert by_address["51.158.10.2"].codes_text() == "Spamhaus ZEN 127.0.0.2 SBL, 127.0.0.4 XBL"
    assert result.summary.endswith("5 listed (2 on policy lists only)")

    texts = [a.text for a in result.advice]
    reputation = [t for t in texts if "for bad reputation" in t]
    policy = [t for t in texts if "by policy" in t]
    # reputation first (major lists before secondary), policy after, whatever the alphabet says
    assert texts.index(reputation[0]) < texts.index(policy[0])
    assert reputation[0].startswith("Spamhaus ZEN lists 2 addresses")
    assert "51.158.10.2: 127.0.0.2 SBL, 127.0.0.4 XBL" in reputation[0]
    assert "51.158.10.5: 127.0.0.2 SBL, 127.0.0.10 PBL" in reputation[0]
    assert len(policy) == 1 and "51.158.10.2" not in policy[0] and "51.158.10.5" not in policy[0]
    assert "51.158.10.3: 127.0.0.10 PBL" in policy[0] and "SBL" not in policy[0]

    rows = list(csv.reader(io.StringIO(result.to_csv())))
    assert rows[0] == ["address", "status", "lists", "unavailable", "kind", "codes"]
    row = next(r for r in rows if r[0] == "51.158.10.5")
    assert row[4] == "reputation" and "127.0.0.2 SBL" in row[5]
    table = result.table()
    line = next(x for x in table.splitlines() if x.startswith("51.158.10.2 "))
    assert "reputation" in line and "127.0.0.4 XBL" in line
    assert result.to_json()["rows"][0]["kind"] == "reputation"


# ---- pace and memory ---------------------------------------------------------------------------


async def test_a_range_asks_no_txt_reason_and_does_not_wait_for_the_self_test(
    dns_server: DnsServer, resolver: Resolver
) -> None:
    healthy(dns_server, *(z.zone for z in ZONES))
    dns_server.add(query_name("51.158.10.5", "bl.spamcop.net"), "A", "127.0.0.2")
    dns_server.add(query_name("51.158.10.5", "bl.spamcop.net"), "TXT", "listed: see spamcop")
    start = len(dns_server.log)
    result = await check_range(NET, resolver, Settings(catalogue=ZONES), cache=SelfTestCache())
    assert result.rows[0].lists == ("SpamCop",)
    asked = dns_server.log[start:]
    assert not [q for q in asked if q.rdtype == "TXT"]
    # Addresses go out before every test point is in: the first address question comes
    # before the last test-point question, not after all of them.
    kinds = ["test" if q.name.startswith(("2.0.0.127.", "1.0.0.127.")) else "ip" for q in asked]
    assert kinds.index("ip") < len(kinds) - 1 - kinds[::-1].index("test")


async def test_a_window_of_addresses_in_flight_not_the_whole_range(
    dns_server: DnsServer, resolver: Resolver
) -> None:
    """With a small cap, only a few addresses are started at a time, and rows stream out."""
    from handlers.ranges import window_size

    healthy(dns_server, *(z.zone for z in ZONES))
    settings = Settings(catalogue=ZONES, max_in_flight=6)
    window = window_size(settings)
    assert window == 4
    in_flight, most = 0, 0
    original = resolver.lookup

    async def counting(name: str, rdtype: str, **kw: object) -> object:
        return await original(name, rdtype, **kw)  # type: ignore[arg-type]

    started: set[str] = set()
    finished: list[str] = []

    async def watched_lookup(name: str, rdtype: str, **kw: object) -> object:
        nonlocal in_flight, most
        ip = ".".join(reversed(name.split(".")[:4]))
        if ip.startswith("51.158.") and ip not in started:
            started.add(ip)
            in_flight = len(started) - len(finished)
            most = max(most, in_flight)
        return await counting(name, rdtype, **kw)

    resolver.lookup = watched_lookup  # type: ignore[method-assign]
    result = await check_range(
        "51.158.10.0/28",
        resolver,
        settings,
        cache=SelfTestCache(),
        on_row=lambda r: finished.append(r.address),
    )
    assert result.addresses == 16 and sorted(finished) == sorted(r.address for r in result.rows)
    assert most <= window


def test_forecast_says_how_long_before_it_starts() -> None:
    from handlers.ranges import forecast, least_seconds

    settings = Settings(catalogue=ZONES, per_list_rate=100)
    assert least_seconds(4096, settings) == pytest.approx(40.96)
    # Over a slow resolver the cap bounds it instead: 4,096 x 3 questions + 6 test points.
    assert least_seconds(4096, settings, round_trip=1.0) == pytest.approx((4096 * 3 + 6) / 256)
    text = forecast(4096, settings)
    assert "4,096 addresses on 3 lists" in text and "12,294 questions" in text
    assert "41 s at least" in text


def test_the_terminal_takes_a_slash_20_and_slack_a_slash_24() -> None:
    from bot.grammar import Range, UsageError, parse

    assert parse("51.158.0.0/20", widest_range=20) == Range("51.158.0.0/20")
    with pytest.raises(UsageError) as info:
        parse("51.158.0.0/20")
    assert "4,096 addresses" in str(info.value) and "/24" in str(info.value)
    with pytest.raises(UsageError):
        parse("51.158.0.0/19", widest_range=20)
