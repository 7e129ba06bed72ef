"""The checks in French: sentences, the catalogue's meanings and advice follow the language;
keys, statuses, codes and reasons do not."""

from __future__ import annotations

from handlers import i18n
from handlers.catalogue import builtin
from handlers.dns.resolver import Resolver
from handlers.dnsbl import SelfTestCache, check_dnsbl, query_name
from handlers.mx import check_mx
from handlers.pools import Pool
from handlers.ptr import check_ptr, reverse_name
from handlers.settings import Settings
from tests.support.dns_server import ANSWER_TIMEOUT, DnsServer

IP = "51.158.10.22"
ZEN = next(z for z in builtin() if z.zone == "zen.spamhaus.org")
SPAMCOP = next(z for z in builtin() if z.zone == "bl.spamcop.net")


def healthy(server: DnsServer, zone: str) -> None:
    server.add(query_name("127.0.0.2", zone), "A", "127.0.0.2")


async def test_blocklists_in_french(dns_server: DnsServer, resolver: Resolver) -> None:
    for zone in ("zen.spamhaus.org", "bl.spamcop.net"):
        healthy(dns_server, zone)
    dns_server.add(query_name(IP, "zen.spamhaus.org"), "A", "127.0.0.4", "127.0.0.10")
    settings = Settings(catalogue=(ZEN, SPAMCOP))
    with i18n.use("fr"):
        result = await check_dnsbl(IP, resolver, settings, cache=SelfTestCache())
    assert result.status == "fail"
    assert result.summary == "Inscrite sur 1 liste de blocage sur 2"
    [listing] = result.listed
    assert listing.kind == "reputation" and listing.codes == ("127.0.0.4", "127.0.0.10")
    assert listing.meanings[0].startswith("XBL : Exploits Blocklist, machine piratée")
    assert listing.meanings[1].startswith("PBL : Policy Block List, inscrite par le fournisseur")
    texts = " ".join(a.text for a in result.advice)
    assert "Trouvez et corrigez la cause" in texts
    as_json = result.to_json()
    assert set(as_json) >= {"status", "summary", "listed", "clean", "unavailable"}
    assert as_json["clean"] == ["bl.spamcop.net"]
    # The same facts in English, from the same code, in the same process.
    english = await check_dnsbl(IP, resolver, settings, cache=SelfTestCache())
    assert english.summary == "Listed on 1 of 2 blocklists"
    assert english.listed[0].meanings[0] == ZEN.codes["127.0.0.4"].meaning


async def test_policy_listing_advice_in_french(dns_server: DnsServer, resolver: Resolver) -> None:
    healthy(dns_server, "zen.spamhaus.org")
    dns_server.add(query_name(IP, "zen.spamhaus.org"), "A", "127.0.0.10")
    with i18n.use("fr"):
        result = await check_dnsbl(IP, resolver, Settings(catalogue=(ZEN,)), cache=SelfTestCache())
    assert result.status == "warn"
    assert result.summary == (
        "Inscrite sur 1 liste de blocage sur 1, uniquement des inscriptions de politique"
    )
    [advice] = result.advice
    assert advice.text.startswith("Spamhaus ZEN inscrit 51.158.10.22 par politique (PBL : ")
    assert "relais authentifié" in advice.text


async def test_clean_and_plural_in_french(dns_server: DnsServer, resolver: Resolver) -> None:
    healthy(dns_server, "zen.spamhaus.org")
    with i18n.use("fr"):
        result = await check_dnsbl(IP, resolver, Settings(catalogue=(ZEN,)), cache=SelfTestCache())
    assert result.status == "ok" and result.summary == "Absente de 1 liste de blocage sur 1"


async def test_reverse_dns_in_french(dns_server: DnsServer, resolver: Resolver) -> None:
    with i18n.use("fr"):
        missing = await check_ptr(IP, resolver, Settings(timeout=0.5))
        dns_server.add(reverse_name(IP), "PTR", "51-158-10-22.dyn.example-isp.net.")
        dns_server.add("51-158-10-22.dyn.example-isp.net", "A", IP)
        fresh = Resolver([(dns_server.host, dns_server.port)], timeout=ANSWER_TIMEOUT)
        generic = await check_ptr(IP, fresh, Settings(timeout=0.5))
    assert missing.status == "fail"
    assert missing.summary == "51.158.10.22 n’a pas d’enregistrement PTR (DNS inverse)"
    assert "mail.votredomaine.fr" in missing.advice[0].text
    assert generic.status == "warn"
    assert generic.summary.startswith("Le PTR 51-158-10-22.dyn.example-isp.net résout bien")
    assert "contient l’adresse (51-158-10-22)" in generic.summary


async def test_mx_of_a_missing_domain_in_french(resolver: Resolver) -> None:
    with i18n.use("fr"):
        result = await check_mx("nowhere.example-mail.net", resolver, Settings(timeout=0.5))
    assert result.status == "fail"
    assert result.summary.startswith("nowhere.example-mail.net n’existe pas (NXDOMAIN)")


def test_pool_notes_in_french() -> None:
    import ipaddress

    pool = Pool(
        "Frankfurt egress",
        (ipaddress.ip_network("51.158.10.0/24"),),
        ptr_available=False,
        contact="noc@example-ops.net",
    )
    with i18n.use("fr"):
        note, advice = pool.note(), pool.ptr_advice().text
    assert note.startswith("Dans le pool de sortie de l’opérateur « Frankfurt egress ».")
    assert "Contact : noc@example-ops.net." in note
    assert "relais authentifié" in advice


def test_a_bounce_explained_in_french() -> None:
    from handlers.bounce import explain_bounce

    text = (
        "550 5.7.1 Service unavailable; Client host [51.158.10.22] blocked using "
        "zen.spamhaus.org; https://www.spamhaus.org/query/ip/51.158.10.22"
    )
    with i18n.use("fr"):
        french = explain_bounce(text)
    english = explain_bounce(text)
    assert french.kind == english.kind == "blocklist"
    assert french.status == english.status and french.ips == english.ips
    assert "a refusé le courrier" in french.summary and "inscrite sur" in french.summary
    assert "refusé le message définitivement" in french.explanation
    assert "relais authentifié" in french.explanation
    assert "refused mail" in english.summary
