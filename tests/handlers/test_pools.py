"""The operator's pools file: the shipped sample, lookups, and errors that say where."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.pools import Pool, PoolsError, load_pools, pool_for

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pools.toml"


@pytest.fixture(scope="module")
def pools() -> tuple[Pool, ...]:
    return load_pools(SAMPLE)


def test_sample_file_loads(pools: tuple[Pool, ...]) -> None:
    assert [p.name for p in pools] == ["Frankfurt egress", "Shanghai egress"]
    frankfurt, shanghai = pools
    assert frankfurt.ptr_available is True and frankfurt.ptr_url
    assert frankfurt.pbl and "PBL" in frankfurt.pbl
    assert shanghai.ptr_available is False
    assert shanghai.contact == "support-apac@example-operator.net"


@pytest.mark.parametrize(
    ("ip", "name"),
    [
        ("51.158.10.22", "Frankfurt egress"),
        ("51.158.11.200", "Frankfurt egress"),
        ("2a01:4f8:10a::25", "Frankfurt egress"),
        ("::ffff:51.158.10.22", "Frankfurt egress"),
        ("47.100.81.5", "Shanghai egress"),
        ("2408:4000:1f0::1", "Shanghai egress"),
        ("51.158.12.1", None),
        ("2a01:4f8:10b::1", None),
        ("not-an-address", None),
    ],
)
def test_pool_for(pools: tuple[Pool, ...], ip: str, name: str | None) -> None:
    found = pool_for(ip, pools)
    assert (found.name if found else None) == name


def test_most_specific_range_wins(tmp_path: Path) -> None:
    path = tmp_path / "pools.toml"
    path.write_text(
        '[[pool]]\nname = "Wide"\nranges = ["51.158.0.0/16"]\n'
        '[[pool]]\nname = "Narrow"\nranges = ["51.158.10.16/28"]\n'
    )
    pools = load_pools(path)
    assert pool_for("51.158.10.20", pools).name == "Narrow"  # type: ignore[union-attr]
    assert pool_for("51.158.99.1", pools).name == "Wide"  # type: ignore[union-attr]


def test_what_reports_say(pools: tuple[Pool, ...]) -> None:
    frankfurt, shanghai = pools
    assert "Frankfurt egress" in frankfurt.note() and "noc@example-operator.net" in frankfurt.note()
    assert "not available" in shanghai.note()
    advice = shanghai.ptr_advice()
    assert "cannot be set" in advice.text and "smarthost" in advice.text
    assert frankfurt.ptr_advice().url == "https://support.example-operator.net/kb/ptr-records"
    assert frankfurt.pbl_advice() is not None
    assert frankfurt.to_json()["ranges"][0] == "51.158.10.0/24"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[pool]\n", "not valid TOML"),
        ('[[pool]]\nranges = ["51.158.10.0/24"]\n', "'name' (text) is required"),
        ('[[pool]]\nname = "A"\n', "'ranges' must be a non-empty list"),
        ('[[pool]]\nname = "A"\nranges = []\n', "'ranges' must be a non-empty list"),
        ('[[pool]]\nname = "A"\nranges = ["51.158.10.300/24"]\n', "is not a valid network"),
        ('[[pool]]\nname = "A"\nranges = ["51.158.10.1/24"]\n', "is not a valid network"),
        ('[[pool]]\nname = "A"\nranges = ["51.158.10.0/24"]\nptr = "maybe"\n', "'ptr' must be"),
        ('[[pool]]\nname = "A"\nranges = ["51.158.10.0/24"]\ncolour = "red"\n', "unknown key"),
        ('[[pool]]\nname = "A"\nranges = ["51.158.10.0/24"]\ncontact = 5\n', "'contact' must be"),
        (
            '[[pool]]\nname = "A"\nranges = ["51.158.10.0/24"]\nptr_url = "ftp://x"\n',
            "http(s) link",
        ),
        (
            '[[pool]]\nname = "A"\nranges = ["51.158.10.0/24"]\n'
            '[[pool]]\nname = "A"\nranges = ["51.158.11.0/24"]\n',
            "used twice: A",
        ),
        ('[pools]\nname = "A"\n', "unknown table"),
    ],
)
def test_errors_name_the_file_and_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "pools.toml"
    path.write_text(text)
    with pytest.raises(PoolsError) as error:
        load_pools(path)
    assert message in str(error.value)
    assert str(path) in str(error.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PoolsError, match="no such file"):
        load_pools(tmp_path / "absent.toml")


def test_empty_file_is_no_pools(tmp_path: Path) -> None:
    path = tmp_path / "pools.toml"
    path.write_text("# nothing yet\n")
    assert load_pools(path) == ()


async def test_the_some_regions_ptr_note_only_where_it_can_apply(
    pools: tuple[Pool, ...], dns_server: object, resolver: object
) -> None:
    """An address with no PTR in a pool whose PTR is available gets the pool's way to a PTR,
    not "some regions cannot have one"; outside any pool the note stays."""
    from dataclasses import replace

    from handlers.check import full_check
    from handlers.i18n import _
    from handlers.ptr import REGIONS
    from handlers.settings import Settings

    settings = Settings(catalogue=(), pools=pools, timeout=0.5)
    inside = await full_check("51.158.10.22", None, resolver, settings, scope="ptr")  # type: ignore[arg-type]
    texts = [a.text for a in inside.advice]
    assert _(REGIONS) not in texts and any("support case" in t for t in texts)
    outside = await full_check(
        "51.159.10.22",
        None,
        resolver,
        replace(settings, pools=()),
        scope="ptr",  # type: ignore[arg-type]
    )
    assert _(REGIONS) in [a.text for a in outside.advice]
