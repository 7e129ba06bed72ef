"""The blocklist catalogue: the built-in data, and a user's file applied on top."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.catalogue import CatalogueError, builtin, load

DEAD = (
    "sorbs.net",
    "ahbl.org",
    "manitu.net",
    "inps.de",
    "virbl",
    "wpbl.info",
    "spamcannibal",
    "emailbasura",
    "abuseat.org",
)


def test_builtin_has_the_live_lists_and_none_of_the_dead() -> None:
    zones = builtin()
    names = [z.zone for z in zones]
    assert len(zones) >= 28
    assert len(set(names)) == len(names)
    for required in ("zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org"):
        assert required in names
    for dead in DEAD:
        assert not any(dead in n for n in names), dead
    by_zone = {z.zone: z for z in zones}
    assert {by_zone[z].tier for z in ("zen.spamhaus.org", "bl.spamcop.net")} == {"major"}
    assert by_zone["b.barracudacentral.org"].tier == "major"
    assert by_zone["b.barracudacentral.org"].access  # registration required
    for informational in (
        "dnsbl-2.uceprotect.net",
        "dnsbl-3.uceprotect.net",
        "ips.backscatterer.org",
    ):
        assert by_zone[informational].tier == "informational"
    assert sum(z.ipv6 for z in zones) >= 5


def test_builtin_entries_are_well_formed() -> None:
    for z in builtin():
        assert z.kind in ("reputation", "policy", "allow"), z.zone
        assert z.tier in ("major", "secondary", "informational"), z.zone
        assert z.lookup_url.startswith("https://") and "{ip}" in z.lookup_url, z.zone
        assert z.removal_for("51.158.10.22").startswith("https://"), z.zone
        assert z.ipv4 or z.ipv6, z.zone
        assert z.codes, z.zone
        assert z.terms, z.zone
        for code, spec in z.codes.items():
            assert code.startswith("127."), (z.zone, code)
            assert spec.kind in ("reputation", "policy", "allow") and spec.meaning
        assert not set(z.codes) & set(z.error_codes), z.zone


def test_builtin_error_codes_and_special_entries() -> None:
    by_zone = {z.zone: z for z in builtin()}
    zen = by_zone["zen.spamhaus.org"]
    assert dict(zen.error_codes) == {
        "127.255.255.252": "bad_key",
        "127.255.255.254": "resolver_blocked",
        "127.255.255.255": "resolver_blocked",
    }
    assert zen.dqs_zone == "zen.dq.spamhaus.net" and zen.ipv6
    assert "DQS" in zen.terms and "non-commercial" in zen.terms
    assert {zen.code_kind(c) for c in ("127.0.0.10", "127.0.0.11")} == {"policy"}
    assert {zen.code_kind(c) for c in ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.9")} == {
        "reputation"
    }
    dnswl = by_zone["list.dnswl.org"]
    assert dnswl.kind == "allow" and dnswl.error_codes["127.0.0.255"] == "resolver_blocked"
    assert "trust medium" in dnswl.meaning("127.0.3.2")
    assert dnswl.code("127.0.0.255") is None  # the refusal code is no trust level


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "zones.toml"
    path.write_text(text, "utf-8")
    return path


def test_user_file_adds_replaces_and_disables(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[list]]
zone = "bl.internal-example.net."
name = "Our own list"
tier = "major"
ipv6 = true
lookup_url = "https://bl.internal-example.net/?ip={ip}"
[list.codes]
"127.0.0.2" = "listed by our abuse desk"
"127.0.0.5" = { meaning = "customer pool", kind = "policy" }

[[list]]
zone = "bl.spamcop.net"
tier = "secondary"

[[list]]
zone = "dnsbl-3.uceprotect.net"
disabled = true
""",
    )
    zones = {z.zone: z for z in load(path)}
    ours = zones["bl.internal-example.net"]
    assert ours.tier == "major" and ours.kind == "reputation" and ours.ipv6
    assert ours.code_kind("127.0.0.5") == "policy"
    assert ours.meaning("127.0.0.9") == "listed"
    spamcop = zones["bl.spamcop.net"]
    assert spamcop.tier == "secondary"
    assert spamcop.lookup_url == next(z for z in builtin() if z.zone == "bl.spamcop.net").lookup_url
    assert "dnsbl-3.uceprotect.net" not in zones
    assert len(zones) == len(builtin())  # one added, one disabled


def test_user_file_can_replace_the_builtin_catalogue(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
replace_builtin = true
[[list]]
zone = "only.example-bl.net"
lookup_url = "https://only.example-bl.net/{ip}"
""",
    )
    assert [z.zone for z in load(path)] == ["only.example-bl.net"]
    assert load(None) == builtin()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[list]]\nzone = "x.example-bl.net"\n', "missing field 'lookup_url'"),
        ('[[list]]\nname = "no zone"\n', "missing field 'zone'"),
        (
            '[[list]]\nzone = "x.example-bl.net"\nlookup_url = "https://x/{ip}"\nkind = "bad"\n',
            "kind must be one of",
        ),
        (
            '[[list]]\nzone = "x.example-bl.net"\nlookup_url = "https://x/{ip}"\ntier = "top"\n',
            "tier must be one of",
        ),
        (
            '[[list]]\nzone = "x.example-bl.net"\nlookup_url = "https://x/{ip}"\n'
            '[list.error_codes]\n"127.0.0.9" = "oops"\n',
            "error code 127.0.0.9",
        ),
        (
            '[[list]]\nzone = "x.example-bl.net"\nlookup_url = "https://x/{ip}"\n'
            '[list.codes]\n"127.0.0.2" = { meaning = "m", kind = "nice" }\n',
            "code 127.0.0.2 kind",
        ),
        ('list = "not tables"\n', "expected [[list]] tables"),
        ("list = [1, 2]\n", "expected a table"),
        ("[[list]\nzone=", "not valid TOML"),
    ],
)
def test_user_file_errors_name_the_fault(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CatalogueError, match=_escape(message)):
        load(write(tmp_path, text))


def test_missing_user_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="cannot read"):
        load(tmp_path / "absent.toml")


def _escape(text: str) -> str:
    import re

    return re.escape(text)
