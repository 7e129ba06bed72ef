"""Zone data for a mail domain that authenticates its mail: a DMARC policy and a DKIM key.

Tests of a clean report with a domain publish these, as a well-run domain does; without
them the report rightly warns (no DMARC record, no DKIM key at the common selectors).
"""

from __future__ import annotations

from tests.support.dns_server import DnsServer

#: A 2048-bit RSA public key (SubjectPublicKeyInfo, base64), made once for the tests.
DKIM_KEY_2048 = (
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA0jS1mmPzbiexUJ5LjqpxEr+o5ylJ1NSNNRTi"
    "WrGlHSk3t62rLYp38tCBu3lg6DCkZ7eWSaLYfXln/oOhoKtQZNhBXlLbCpvI0tgpCtKuMOYtsEQDEC1x"
    "2RQu3cCUw6oo264/zcvCMl60pG/ZkmTORGNX1RI+9moh9MJujdx1HcrzHrwQHhNQCvTUvz45XqQiUM6r"
    "pA2oYqpyOcHXxiWP5LtcyU1Km16jyNTf0m/riVGoNw3wcWOH9V/KQwx3b7SFeWCMj+iD0cm/3gI4PsjJ"
    "hERtp81oSVWlnK5Fo/BNmJwnlg1mz+hbrOsHHbvNba//XYPTdiQFOA+/YCycpHiQzQIDAQAB"
)


def publish_authentication(dns: DnsServer, domain: str, *, selector: str = "selector1") -> None:
    """Publish `v=DMARC1; p=none; rua=...` and a 2048-bit DKIM key at `selector`."""
    dns.add(f"_dmarc.{domain}", "TXT", f"v=DMARC1; p=none; rua=mailto:dmarc@{domain}")
    dns.add(f"{selector}._domainkey.{domain}", "TXT", f"v=DKIM1; k=rsa; p={DKIM_KEY_2048}")
