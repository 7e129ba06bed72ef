"""What the terminal says where the shared grammar meets a Slack-only feature or rule.

Found by a new user's pass over `smtpcheck --help` and every verb: `monitor` answered with
the watches sentence, and a bad port listed the Slack bot's ports, while the terminal
probes any port it is given. Each answer is checked in English and in French.
"""

from __future__ import annotations

import io
import re

import pytest

from bot.terminal.cli import main
from tests.support.dns_server import DnsServer

IP = "51.158.10.22"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def english_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SMTPCHECK_LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)


# verb and arguments, what it must say (en, fr), what it must not say (the watches sentence)
SLACK_ONLY = [
    (
        ["monitor", "51.158.10.0/24"],
        ("Monitors are a Slack bot feature", "`/smtpcheck monitor RANGE|POOL [every 1h]`"),
        ("Les supervisions sont une fonction du bot Slack", "`/smtpcheck monitor PLAGE|POOL"),
    ),
    (
        ["monitor", "Frankfurt", "egress", "every", "2h"],
        ("Monitors are a Slack bot feature", "`smtpcheck 51.158.10.0/24`"),
        ("Les supervisions sont une fonction du bot Slack", "`smtpcheck 51.158.10.0/24`"),
    ),
    # With no target, or a target the Slack rule refuses, the answer is still where
    # monitors live, not a Slack grammar error ending in "See `smtpcheck help`" (which
    # does not list monitor).
    (
        ["monitor"],
        ("Monitors are a Slack bot feature",),
        ("Les supervisions sont une fonction du bot Slack",),
    ),
    (
        ["monitor", "51.158.0.0/16"],
        ("Monitors are a Slack bot feature",),
        ("Les supervisions sont une fonction du bot Slack",),
    ),
    (
        ["unmonitor", "51.158.10.0/24"],
        ("Monitors run in the Slack bot, not in the terminal", "`/smtpcheck unmonitor"),
        ("Les supervisions tournent dans le bot Slack", "`/smtpcheck unmonitor"),
    ),
    (
        ["unwatch", IP],
        ("Watches run in the Slack bot, not in the terminal", "`/smtpcheck unwatch IP`"),
        ("Les surveillances tournent dans le bot Slack", "`/smtpcheck unwatch IP`"),
    ),
    (
        ["MONITOR\u200b", "51.158.10.0/24"],  # as pasted: case and a zero-width space
        ("Monitors are a Slack bot feature",),
        ("Les supervisions sont une fonction du bot Slack",),
    ),
]


@pytest.mark.parametrize(("argv", "english", "french"), SLACK_ONLY)
def test_slack_only_verbs_say_what_they_are_and_where(
    argv: list[str], english: tuple[str, ...], french: tuple[str, ...]
) -> None:
    for lang, expected in (("en", english), ("fr", french)):
        code, out, err = run(*argv, "--lang", lang)
        assert code == 3 and out == ""
        for text in expected:
            assert text in err, (lang, err)
        # Not the watches sentence, not a pointer to a help that does not list the verb.
        assert "Watches report in a Slack thread" not in err
        assert "Les surveillances rendent compte" not in err
        assert "help`" not in err


def test_watch_keeps_its_own_sentence() -> None:
    assert "Watches report in a Slack thread" in run("watch", IP)[2]
    assert "Les surveillances rendent compte dans un fil Slack" in run("watch", "--lang=fr")[2]


@pytest.mark.parametrize("port", ["²", "0", "70000", "smtp", "-25"])
def test_a_bad_port_names_the_terminals_rule(port: str, dns_server: DnsServer) -> None:
    """The terminal probes any port 1-65535: it does not list the Slack bot's SMTP ports."""
    code, out, err = run("smtp", "8.8.8.8", port)
    assert code == 3 and out == ""
    assert "is not a port number: give one from 1 to 65535" in err, err
    assert "2525" not in err
    code, _, err = run("smtp", "8.8.8.8", port, "--lang", "fr")
    assert code == 3
    assert "n’est pas un numéro de port : donnez-en un de 1 à 65535" in err, err
    assert "2525" not in err
    assert not dns_server.questions()  # refused before any lookup


def test_an_attached_bad_port_names_the_terminals_rule() -> None:
    code, _, err = run("smtp", "mx.example-mail.net:99999")
    assert code == 3 and "99999 is not a port number: give one from 1 to 65535" in err


def test_slack_keeps_its_ports_in_the_sentence() -> None:
    from bot.grammar import UsageError, parse

    with pytest.raises(UsageError, match=r"connects to ports 25, 465, 587 or 2525\."):
        parse("smtp 8.8.8.8 ²")
    with pytest.raises(UsageError, match=r"connects to ports 2526 or 587\."):
        parse("smtp 8.8.8.8 ²", ports=(2526, 587))


@pytest.mark.parametrize(
    ("argv", "english", "french"),
    [
        (
            ("mx", "51.159.20.30"),
            "for the name of 51.159.20.30 use `ptr 51.159.20.30`, or `smtp 51.159.20.30` to probe it",
            "pour le nom de 51.159.20.30, utilisez `ptr 51.159.20.30`, ou `smtp 51.159.20.30` pour la sonder",
        ),
        (
            ("dkim", "51.159.20.30"),
            "`dkim` takes a mail domain, not an address: `dkim DOMAIN`",
            "`dkim` prend un domaine de messagerie, pas une adresse : `dkim DOMAINE`",
        ),
        (
            ("dmarc", "51.159.20.30", "example.com"),
            "`dmarc` takes the domain first: `dmarc example.com 51.159.20.30`.",
            "`dmarc` prend d’abord le domaine : `dmarc example.com 51.159.20.30`.",
        ),
        (
            ("spf", "exa mple.com"),  # the shell kept it one word
            "“exa mple.com” has a space in it, and no address or domain has one: if it was split when pasted, write `spf example.com`.",
            "« exa mple.com » contient une espace, ce qu’aucune adresse ni aucun domaine ne contient : s’il a été coupé en le collant, écrivez `spf example.com`.",
        ),
    ],
)
def test_slips_get_a_suggestion_in_the_terminal(
    argv: tuple[str, ...], english: str, french: str, dns_server: DnsServer
) -> None:
    code, out, err = run(*argv)
    assert code == 3 and out == "" and english in err, err
    code, _, err = run(*argv, "--lang", "fr")
    assert code == 3 and french in err, err
    assert not dns_server.questions()  # told before any lookup


@pytest.mark.parametrize(
    ("lang", "summary", "why", "same_why"),
    [
        (
            "en",
            r"No DKIM key at the \d+ common selectors of example-mail.net\n",
            "DNS answers only for a name it is asked and has no way to list the selectors "
            "under _domainkey.example-mail.net, so give the selector from the s= tag of a "
            "message's DKIM-Signature header: `dkim example-mail.net SELECTOR`",
            "list",
        ),
        (
            "fr",
            r"Aucune clé DKIM aux \d+ sélecteurs courants de example-mail.net\n",
            "Le DNS ne répond que pour un nom qu’on lui demande et n’a aucun moyen de lister "
            "les sélecteurs sous _domainkey.example-mail.net : donnez donc le sélecteur de la "
            "balise s= de l’en-tête DKIM-Signature d’un message : "
            "`dkim example-mail.net SÉLECTEUR`",
            "lister",
        ),
    ],
)
def test_dkim_none_found_says_why_once(
    dns_server: DnsServer, lang: str, summary: str, why: str, same_why: str
) -> None:
    """The summary is the finding; the detail under it says why DNS cannot list selectors
    and what to give instead. Before, both lines said that selectors cannot be listed."""
    code, out, _ = run("dkim", "example-mail.net", "--lang", lang, "--no-color")
    assert code == 1
    assert re.search(summary, out) and why in out, out
    report = out.split("\n\n")[0] if "\n\n" in out else out
    detail = [line for line in report.splitlines() if "DKIM" in line or "_domainkey" in line]
    assert sum(line.count(same_why) for line in detail) == 1, detail


# ---- found by the new-user pass over every verb, with right and wrong input ----------


@pytest.mark.parametrize(
    ("argv", "english", "french"),
    [
        # "needs more: see the usage below", with no usage below (one sentence and a
        # pointer to help is the rule): the verb's own shape instead.
        (["bl"], "`bl` needs more: `bl IP`.", "`bl` demande davantage : `bl IP`."),
        (
            ["dmarc"],
            "`dmarc` needs more: `dmarc DOMAIN [IP]`.",
            "`dmarc` demande davantage : `dmarc DOMAINE [IP]`.",
        ),
        (
            ["dkim"],
            "`dkim` needs more: `dkim DOMAIN [SELECTOR...]`.",
            "`dkim` demande davantage : `dkim DOMAINE [SÉLECTEUR...]`.",
        ),
        (["history"], "`history` needs more: `history IP`.", "`history` demande davantage"),
        # The full check has no verb: it was called `check`, a word the person never typed.
        (
            [IP, "example.com", "extra"],
            f"{IP} takes at most 1 word after it, its mail domain; I did not understand 'extra'.",
            f"Après {IP}, un seul mot est attendu, son domaine de messagerie",
        ),
        # Hostile or odd text: one argument the shell kept whole is named whole.
        (
            ["$(rm -rf /)"],
            "“$(rm -rf /)” has a space in it, and no address or domain has one.",
            "« $(rm -rf /) » contient une espace, ce qu’aucune adresse ni aucun domaine ne contient.",
        ),
        (
            ["'; DROP TABLE reports;--"],
            "“; DROP TABLE reports;--” has a space in it, and no address or domain has one.",
            "« ; DROP TABLE reports;-- » contient une espace, ce qu’aucune adresse ni aucun domaine ne contient.",
        ),
        # Typed as separate words, the first word is judged first and named.
        (
            ["$(rm", "/)"],
            "$(rm is neither an IP address nor a host name with a dot.",
            "$(rm n’est ni une adresse IP ni un nom d’hôte avec un point.",
        ),
        (
            ["<script>alert(1)</script>"],
            "is neither an IP address nor a host name with a dot.",
            "n’est ni une adresse IP ni un nom d’hôte avec un point.",
        ),
        (
            ["dkim", "example.com", *(f"s{n}" for n in range(11))],
            "`dkim` takes a domain and at most 10 selectors; I did not understand 's10'.",
            "`dkim` prend un domaine et au plus 10 sélecteurs ; je n’ai pas compris 's10'.",
        ),
        # An option the command does not have was "neither an IP address nor a host name".
        (["--bogus", IP], "--bogus is not an option of smtpcheck.", "--bogus n’est pas une option"),
        (["-x"], "-x is not an option of smtpcheck.", "-x n’est pas une option de smtpcheck."),
    ],
)
def test_bad_input_sentences(argv: list[str], english: str, french: str) -> None:
    for lang, expected in (("en", english), ("fr", french)):
        code, out, err = run(*argv, "--lang", lang)
        assert code == 3 and out == ""
        assert expected in err, (lang, err)
        assert err.count("\n") == 1  # one sentence and the pointer to help, on one line
        for wrong in (
            "usage below",
            "ci-dessous",
            "`check`",
            "is not a range",
            "n’est pas une plage",
        ):
            assert wrong not in err, (lang, err)


def test_a_bounce_keeps_words_that_look_like_options() -> None:
    from bot.terminal.cli import split_flags

    assert split_flags(["bounce", "--weird", "550", "--json"]).words == ["bounce", "--weird", "550"]


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_a_bidi_override_is_not_echoed(lang: str) -> None:
    """`\u202emoc.elpmaxe` would print reversed: the sentence shows what the bytes say."""
    code, _, err = run("\u202emoc.elpmaxe", "--lang", lang)
    assert code == 3 and "\u202e" not in err and err.startswith("moc.elpmaxe ")


def test_french_help_has_french_headings() -> None:
    """`Examples:` was inside an f-string, where Babel does not look: it had no French."""
    out = run("help", "--lang", "fr")[1]
    assert "Utilisation :" in out and "Exemples :" in out and "Examples:" not in out


@pytest.mark.parametrize(
    ("lang", "says"),
    [
        ("en", "The SMTP probe only connects to public addresses, so it cannot be used"),
        ("fr", "La sonde SMTP ne se connecte qu’à des adresses publiques ; elle ne peut donc pas"),
    ],
)
def test_a_refused_probe_does_not_list_slacks_ports(
    dns_server: DnsServer, monkeypatch: pytest.MonkeyPatch, lang: str, says: str
) -> None:
    """The refusal is about the address; the terminal probes any port, so the advice
    listed the Slack bot's ports for nothing (and wrongly, with SMTPCHECK_SMTP_PORTS set)."""
    monkeypatch.delenv("SMTPCHECK_ALLOW_PRIVATE_TARGETS", raising=False)
    code, out, _ = run("smtp", "10.0.0.1", "--lang", lang, "--no-color")
    assert code == 3 and says in out and "2525" not in out


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_egress_note_is_not_about_the_bot(lang: str) -> None:
    """The terminal's egress check runs where the terminal runs, not where "the bot" does."""
    from handlers import i18n
    from handlers.egress import NOTE

    with i18n.use(lang):  # type: ignore[arg-type]
        note = i18n._(NOTE)
    assert "smtpcheck" in note and "bot" not in note


@pytest.mark.parametrize(
    ("lang", "heading"),
    [
        ("en", ["address", "status", "kind", "lists"]),
        ("fr", ["adresse", "statut", "type", "listes"]),
    ],
)
def test_a_range_tables_headings_follow_the_language(
    dns_server: DnsServer, monkeypatch: pytest.MonkeyPatch, lang: str, heading: list[str]
) -> None:
    """The headings were English in a French answer; the cells (ok, fail, policy) stay keys,
    and so does the CSV (a file for scripts)."""
    monkeypatch.setenv("SMTPCHECK_TIMEOUT", "0.5")
    _, out, _ = run("51.158.40.0/31", "--lang", lang, "--no-color")
    lines = out.splitlines()
    assert lines[3].split() == heading
    rows = [line.split() for line in lines[4:] if line.startswith("51.158.40.")]
    assert len(rows) == 2 and {row[1] for row in rows} <= {"ok", "warn", "fail", "error"}
    _, out, _ = run("51.158.40.0/31", "--lang", lang, "--csv")
    assert out.splitlines()[0] == "address,status,lists,unavailable,kind,codes"


@pytest.mark.parametrize(
    ("lang", "says"),
    [
        ("en", "münchen.example-mail.net does not resolve: the name does not exist."),
        ("fr", "münchen.example-mail.net ne se résout pas : le nom n’existe pas."),
    ],
)
def test_an_idn_that_does_not_resolve_is_named_as_typed(
    dns_server: DnsServer, lang: str, says: str
) -> None:
    """DNS is asked the A-label; the sentence names what was typed, not xn--mnchen-3ya."""
    code, _, err = run("münchen.example-mail.net", "--lang", lang)
    assert code == 3 and says in err and "xn--" not in err


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_status_column_lines_up_in_both_languages(dns_server: DnsServer, lang: str) -> None:
    """The status column is as wide as the longest title: "Listes de blocage" ran into it."""
    _, out, _ = run(IP, "--lang", lang, "--no-color")
    status = re.compile(r" (OK|WARN|FAIL|ERROR|SKIPPED) ")
    rows = [line for line in out.splitlines() if re.match(r"^  \S", line) and status.search(line)]
    assert len(rows) == 3, out  # blocklists, PTR, SPF
    assert len({status.search(line).start() for line in rows}) == 1, out  # type: ignore[union-attr]
    assert "l'" not in out  # French typography: one apostrophe, ’
