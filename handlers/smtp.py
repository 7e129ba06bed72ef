"""The SMTP probe: can we reach a mail server, does it speak SMTP, and is its TLS sound?

Guide step 1 ("the firewall allows SMTP") is only answered by trying: connect, read
the greeting, EHLO, STARTTLS (or implicit TLS on 465) with the certificate checked,
then QUIT. No MAIL FROM, RCPT or DATA is ever sent, so no mail and no relay test.

Each way of failing is its own `failure` kind with its own advice, because the fix
differs: nothing listening (`refused`), a firewall dropping packets (`timeout`), no
route (`unreachable`), a certificate or handshake problem (`tls`), a server that
refuses us in words (`rejected`), something that is not SMTP (`protocol`), a name
that does not resolve (`dns`) and our own safety rules (`forbidden`).

Safety: the probe connects only to addresses it has resolved itself through our
resolver and checked, every one of them, so a name cannot smuggle a private or
metadata address in (and nothing is resolved a second time at connect).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import dns.reversename
from cryptography import x509

from handlers.dns.resolver import Resolver
from handlers.i18n import N_, _, number
from handlers.numbers import ascii_int
from handlers.results import Advice, CheckResult, Status
from handlers.settings import Settings
from handlers.targets import METADATA_REASON, is_metadata, non_global_reason, reason_phrase

Failure = Literal[
    "refused", "timeout", "unreachable", "tls", "rejected", "protocol", "forbidden", "dns"
]

#: Problems a TLS session can have, most important first.
TlsProblem = Literal[
    "expired", "not_yet_valid", "chain", "name", "protocol", "handshake", "starttls_refused"
]
_CERTIFICATE_PROBLEMS = ("expired", "not_yet_valid", "chain", "name")

_MAX_REPLY_LINES = 100
_GUIDE_FIREWALL = N_("Guide step 1: the internet firewall must allow outbound SMTP.")
_SSL_PROTOCOL_REASONS = frozenset(
    {
        "UNSUPPORTED_PROTOCOL",
        "TLSV1_ALERT_PROTOCOL_VERSION",
        "NO_PROTOCOLS_AVAILABLE",
        "TLSV1_ALERT_INSUFFICIENT_SECURITY",
    }
)


@dataclass
class SmtpStep:
    """One exchange: what we sent (None for connect and the banner), the reply, its verdict."""

    name: str
    sent: str | None
    code: int | None
    reply: str
    status: Status
    ms: float


@dataclass
class TlsInfo:
    """What the TLS session and the server's certificate looked like."""

    version: str | None = None
    cipher: str | None = None
    #: None when no certificate was seen (the handshake failed before it).
    certificate_ok: bool | None = None
    #: The most important certificate problem: expired, not_yet_valid, chain or name.
    certificate_error: str | None = None
    #: Every problem found, certificate and handshake alike.
    problems: list[str] = field(default_factory=list)
    detail: str | None = None
    subject: str | None = None
    issuer: str | None = None
    not_after: str | None = None
    names: list[str] = field(default_factory=list)
    #: The name the certificate was matched against (None: probed by address, no PTR).
    name_checked: str | None = None


@dataclass
class SmtpResult(CheckResult):
    """The probe of one host and port; `failure` says how it failed (None when it did not)."""

    host: str
    address: str | None
    port: int
    addresses: list[str] = field(default_factory=list)
    connect_ms: float | None = None
    banner: str | None = None
    extensions: list[str] = field(default_factory=list)
    #: Extensions after STARTTLS (AUTH is often only offered there).
    extensions_tls: list[str] = field(default_factory=list)
    #: The server advertises STARTTLS.
    starttls: bool = False
    implicit_tls: bool = False
    tls: TlsInfo | None = None
    failure: Failure | None = None
    steps: list[SmtpStep] = field(default_factory=list)
    ptr: str | None = None
    banner_host: str | None = None
    banner_matches_ptr: bool | None = None
    #: Where the probe ran (the bot's host): a firewall may block it there, not at the target.
    probed_from: str = ""


# ---- safety ------------------------------------------------------------------------------


def port_refusal(port: int, settings: Settings) -> str | None:
    """Why `port` is not probed, or None. Only SMTP ports: the probe is no port scanner."""
    if port in settings.smtp_ports:
        return None
    allowed = ", ".join(str(p) for p in settings.smtp_ports)
    return _("port {port} is not an SMTP port this probe connects to (allowed: {allowed})").format(
        port=port, allowed=allowed
    )


def address_refusal(address: str, settings: Settings) -> str | None:
    """Why the probe will not connect to `address`, or None.

    Metadata endpoints are refused always, in every IPv6 form that carries them; other
    non-public addresses (handlers.targets) unless `allow_private_targets`.
    """
    ip = ipaddress.ip_address(address)
    if is_metadata(ip):
        return _("{address} is {kind}").format(address=address, kind=reason_phrase(METADATA_REASON))
    if settings.allow_private_targets:
        return None
    reason = non_global_reason(ip)
    if reason is None:
        return None
    return _("{address} is {kind}").format(address=address, kind=reason_phrase(reason))


class ProbeLimitExceeded(Exception):
    """A user already has as many probes running as the cap allows."""

    def __init__(self, user: str, limit: int) -> None:
        super().__init__(f"{user} already has {limit} SMTP probe(s) running; wait for them")
        self.user = user
        self.limit = limit


class ProbeLimiter:
    """Caps the probes one user runs at once (the bot holds one; refuses, never queues)."""

    def __init__(self, per_user: int) -> None:
        if per_user < 1:
            raise ValueError("per_user must be at least 1")
        self.per_user = per_user
        self._running: dict[str, int] = {}

    def running(self, user: str) -> int:
        return self._running.get(user, 0)

    @contextlib.asynccontextmanager
    async def slot(self, user: str) -> AsyncIterator[None]:
        """Hold one of `user`'s slots for the block; raise `ProbeLimitExceeded` when none is free."""
        count = self._running.get(user, 0)
        if count >= self.per_user:
            raise ProbeLimitExceeded(user, self.per_user)
        self._running[user] = count + 1
        try:
            yield
        finally:
            left = self._running[user] - 1
            if left:
                self._running[user] = left
            else:
                del self._running[user]


# ---- the dialogue ------------------------------------------------------------------------


class _Abort(Exception):
    """Ends the dialogue with a failure kind; `detail` is said to the user."""

    def __init__(self, failure: Failure, detail: str, step: str) -> None:
        super().__init__(detail)
        self.failure = failure
        self.detail = detail
        self.step = step


@dataclass
class _Session:
    """What one connection learned."""

    steps: list[SmtpStep] = field(default_factory=list)
    connect_ms: float | None = None
    banner: str | None = None
    extensions: list[str] = field(default_factory=list)
    extensions_tls: list[str] = field(default_factory=list)
    starttls: bool = False
    tls: TlsInfo | None = None
    abort: _Abort | None = None
    #: Set when the certificate failed verification (a second, unverified look is needed).
    verify_failed: ssl.SSLCertVerificationError | None = None
    reply_code: int | None = None


class _Dialogue:
    def __init__(
        self,
        address: str,
        port: int,
        settings: Settings,
        tls_name: str | None,
        verify: bool,
    ) -> None:
        self.address = address
        self.port = port
        self.settings = settings
        self.timeout = settings.smtp_timeout
        self.tls_name = tls_name
        self.verify = verify
        self.implicit = port in settings.smtp_implicit_tls_ports
        self.session = _Session()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def run(self) -> _Session:
        try:
            await self._converse()
        except _Abort as abort:
            self.session.abort = abort
        finally:
            if self.writer is not None:
                self.writer.close()
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(1.0):
                        await self.writer.wait_closed()
        return self.session

    async def _converse(self) -> None:
        await self._connect()
        if self.implicit:
            await self._handshake()
            if self.session.verify_failed is not None:
                return
            if not self.verify:
                await self._quit_quietly()
                return
        greeting, banner = await self._reply("banner")
        self.session.banner = banner
        self.session.reply_code = greeting
        if greeting != 220:
            self._record("banner", None, greeting, banner, "fail")
            await self._quit_quietly()
            raise _Abort("rejected", banner, "banner")
        self._record("banner", None, greeting, banner, "ok")
        self.session.extensions = await self._ehlo("ehlo")
        self.session.starttls = "STARTTLS" in (e.split()[0] for e in self.session.extensions)
        if self.session.starttls and not self.implicit:
            code, text = await self._command("starttls", "STARTTLS")
            if code != 220:
                self._record("starttls", "STARTTLS", code, text, "fail")
                self.session.tls = TlsInfo(problems=["starttls_refused"], detail=text)
                await self._quit_quietly()
                raise _Abort(
                    "tls",
                    _("the server offered STARTTLS but answered: {reply}").format(reply=text),
                    "starttls",
                )
            self._record("starttls", "STARTTLS", code, text, "ok")
            await self._handshake()
            if self.session.verify_failed is not None:
                return
            if not self.verify:
                await self._quit_quietly()
                return
            self.session.extensions_tls = await self._ehlo("ehlo after tls")
        code, text = await self._command("quit", "QUIT", tolerate=True)
        if code is not None:
            self._record("quit", "QUIT", code, text, "ok" if code == 221 else "warn")

    # -- steps --

    async def _connect(self) -> None:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                self.reader, self.writer = await asyncio.open_connection(self.address, self.port)
        except TimeoutError as exc:
            self._record("connect", None, None, f"no answer within {self.timeout:g} s", "fail")
            raise _Abort("timeout", "connect timed out", "connect") from exc
        except ConnectionRefusedError as exc:
            self._record("connect", None, None, "connection refused", "fail")
            raise _Abort("refused", "connection refused", "connect") from exc
        except OSError as exc:
            text = exc.strerror or str(exc)
            self._record("connect", None, None, text, "fail")
            if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL):
                raise _Abort("unreachable", text, "connect") from exc
            if exc.errno == errno.ETIMEDOUT:
                raise _Abort("timeout", text, "connect") from exc
            raise _Abort("unreachable", text, "connect") from exc
        self.session.connect_ms = round((time.perf_counter() - started) * 1000, 1)
        self._record(
            "connect",
            None,
            None,
            f"connected to {self.address}:{self.port}",
            "ok",
            ms=self.session.connect_ms,
        )

    async def _ehlo(self, step: str) -> list[str]:
        name = self.settings.smtp_helo_name or self._default_helo()
        code, text = await self._command(step, f"EHLO {name}")
        if code == 250:
            self._record(step, f"EHLO {name}", code, text, "ok")
            return [line[4:].strip() for line in text.splitlines()[1:] if line[4:].strip()]
        if code in (500, 501, 502):
            # An old server without ESMTP: RFC 5321 says fall back to HELO.
            self._record(step, f"EHLO {name}", code, text, "warn")
            code, helo = await self._command("helo", f"HELO {name}")
            if code == 250:
                self._record("helo", f"HELO {name}", code, helo, "warn")
                return []
            text = helo
        self._record(step, f"EHLO {name}", code, text, "fail")
        await self._quit_quietly()
        raise _Abort("rejected", text, step)

    def _default_helo(self) -> str:
        """Our host name when it is fully qualified, else our address literal (RFC 5321 4.1.3)."""
        hostname = socket.gethostname()
        if "." in hostname:
            return hostname
        assert self.writer is not None
        local = self.writer.get_extra_info("sockname")
        ip = ipaddress.ip_address(local[0]) if local else None
        if ip is None:
            return "smtpcheck.invalid"
        return f"[IPv6:{ip}]" if ip.version == 6 else f"[{ip}]"

    async def _handshake(self) -> None:
        assert self.writer is not None
        context = _tls_context(self.settings, self.verify)
        started = time.perf_counter()
        sent = None if self.implicit else "(TLS handshake)"
        try:
            async with asyncio.timeout(self.timeout):
                await self.writer.start_tls(
                    context,
                    server_hostname=self.tls_name,
                    ssl_handshake_timeout=self.timeout,
                )
        except ssl.SSLCertVerificationError as exc:
            self.session.verify_failed = exc
            self._record(
                "tls",
                sent,
                None,
                f"certificate not verified: {exc.verify_message}",
                "fail",
                since=started,
            )
            return
        except ssl.SSLError as exc:
            reason = exc.reason or exc.strerror or str(exc)
            problem: TlsProblem = "protocol" if reason in _SSL_PROTOCOL_REASONS else "handshake"
            detail = _handshake_detail(problem, reason, self.implicit)
            self.session.tls = TlsInfo(problems=[problem], detail=detail)
            self._record("tls", sent, None, detail, "fail", since=started)
            raise _Abort("tls", detail, "tls") from exc
        except TimeoutError as exc:
            detail = _("the TLS handshake did not finish within {seconds} s").format(
                seconds=f"{self.timeout:g}"
            )
            self.session.tls = TlsInfo(problems=["handshake"], detail=detail)
            self._record("tls", sent, None, detail, "fail", since=started)
            raise _Abort("tls", detail, "tls") from exc
        except (ConnectionError, OSError) as exc:
            detail = _("the connection broke during the TLS handshake ({error})").format(
                error=exc.__class__.__name__
            )
            self.session.tls = TlsInfo(problems=["handshake"], detail=detail)
            self._record("tls", sent, None, detail, "fail", since=started)
            raise _Abort("tls", detail, "tls") from exc
        ssl_object = self.writer.get_extra_info("ssl_object")
        info = TlsInfo(version=ssl_object.version(), cipher=(ssl_object.cipher() or (None,))[0])
        der = ssl_object.getpeercert(binary_form=True)
        if der:
            _describe_certificate(info, der, self.tls_name)
        if self.verify:
            _judge(info, verify_error=None)
        self.session.tls = info
        self._record(
            "tls",
            sent,
            None,
            f"{info.version} {info.cipher}",
            "ok" if not info.problems else "fail",
            since=started,
        )

    # -- wire --

    async def _command(
        self, step: str, line: str, tolerate: bool = False
    ) -> tuple[int | None, str]:
        assert self.writer is not None
        try:
            self.writer.write(line.encode("ascii", "replace") + b"\r\n")
            async with asyncio.timeout(self.timeout):
                await self.writer.drain()
            return await self._reply(step, sent=line)
        except (_Abort, TimeoutError, ConnectionError, OSError):
            if tolerate:
                # A server that hangs up on QUIT is rude, not broken.
                if self.session.steps and self.session.steps[-1].name == step:
                    self.session.steps[-1].status = "warn"
                return None, ""
            raise

    async def _reply(self, step: str, sent: str | None = None) -> tuple[int, str]:
        """One (multi-line) reply: its code and all its lines, as the server wrote them."""
        assert self.reader is not None
        lines: list[str] = []
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                while True:
                    raw = await self.reader.readline()
                    if not raw:
                        raise _Abort(
                            "rejected" if step == "banner" else "timeout",
                            _closed_detail(step, lines),
                            step,
                        )
                    text = raw.decode("utf-8", "replace").rstrip("\r\n")
                    if not _is_reply_line(text) or (lines and text[:3] != lines[0][:3]):
                        raise _Abort("protocol", _not_smtp_detail(text, lines), step)
                    lines.append(text)
                    if len(text) == 3 or text[3] == " ":
                        return int(lines[0][:3]), "\n".join(lines)
                    if len(lines) >= _MAX_REPLY_LINES:
                        raise _Abort("protocol", _("a reply of more than 100 lines"), step)
        except TimeoutError as exc:
            detail = _("no reply within {seconds} s").format(seconds=f"{self.timeout:g}")
            self._record(step, sent, None, detail, "fail", since=started)
            raise _Abort("timeout", detail, step) from exc
        except (ValueError, asyncio.LimitOverrunError) as exc:
            self._record(step, sent, None, "an overlong line", "fail", since=started)
            raise _Abort("protocol", _("an overlong reply line"), step) from exc
        except _Abort as abort:
            self._record(step, sent, None, abort.detail, "fail", since=started)
            raise
        except (ConnectionError, OSError) as exc:
            detail = _("the connection broke ({error})").format(error=exc.__class__.__name__)
            self._record(step, sent, None, detail, "fail", since=started)
            raise _Abort("rejected" if step == "banner" else "timeout", detail, step) from exc

    async def _quit_quietly(self) -> None:
        with contextlib.suppress(Exception):
            await self._command("quit", "QUIT", tolerate=True)

    def _record(
        self,
        name: str,
        sent: str | None,
        code: int | None,
        reply: str,
        status: Status,
        ms: float | None = None,
        since: float | None = None,
    ) -> None:
        if ms is None:
            ms = round((time.perf_counter() - since) * 1000, 1) if since else 0.0
        self.session.steps.append(SmtpStep(name, sent, code, reply, status, ms))


def _is_reply_line(text: str) -> bool:
    return (
        len(text) >= 3 and ascii_int(text[:3]) is not None and (len(text) == 3 or text[3] in " -")
    )


def _closed_detail(step: str, lines: list[str]) -> str:
    if step == "banner" and not lines:
        return _("the server closed the connection without a greeting")
    return _("the server closed the connection during {step}").format(step=step)


def _not_smtp_detail(text: str, lines: list[str]) -> str:
    shown = text[:120]
    if lines:
        return _("a reply line that breaks SMTP's format: {reply!r}").format(reply=shown)
    return _("the service does not speak SMTP; it said: {reply!r}").format(reply=shown)


def _handshake_detail(problem: TlsProblem, reason: str, implicit: bool) -> str:
    if problem == "protocol":
        return _(
            "no TLS version in common: the server offers none of TLS 1.2/1.3 ({reason})"
        ).format(reason=reason)
    if reason == "WRONG_VERSION_NUMBER" and implicit:
        return _("the server does not speak TLS on this port (plain SMTP on an implicit-TLS port?)")
    return _("the TLS handshake failed ({reason})").format(reason=reason)


def _tls_context(settings: Settings, verify: bool) -> ssl.SSLContext:
    """Verifying context (chain and dates by OpenSSL; the name we check ourselves) or a blind one."""
    if verify:
        context = ssl.create_default_context(cafile=settings.smtp_ca_file)
        # Our own name check reports a mismatch as a finding instead of aborting the handshake.
        context.check_hostname = False
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _describe_certificate(info: TlsInfo, der: bytes, name: str | None) -> None:
    """Subject, issuer, expiry and names from the leaf certificate; the name match."""
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        info.detail = _("the server's certificate could not be parsed")
        return
    info.subject = cert.subject.rfc4514_string()
    info.issuer = cert.issuer.rfc4514_string()
    info.not_after = cert.not_valid_after_utc.isoformat()
    now = datetime.now(UTC)
    if cert.not_valid_after_utc < now:
        info.problems.append("expired")
    elif cert.not_valid_before_utc > now:
        info.problems.append("not_yet_valid")
    names: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(n) for n in san.get_values_for_type(x509.DNSName)]
        names += [str(a) for a in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        common = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
        names = [str(c.value) for c in common]
    info.names = names
    if name is not None:
        info.name_checked = name
        if not any(_name_matches(pattern, name) for pattern in names):
            info.problems.append("name")


def _name_matches(pattern: str, name: str) -> bool:
    """RFC 6125 matching: exact, or a wildcard as the whole left-most label only."""
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if pattern == name:
        return True
    if pattern.startswith("*.") and "*" not in pattern[2:]:
        head, _, rest = name.partition(".")
        return bool(head) and rest == pattern[2:] and "." in rest
    return False


def _judge(info: TlsInfo, verify_error: ssl.SSLCertVerificationError | None) -> None:
    """Fold the chain verdict into the problems and set certificate_ok / certificate_error."""
    if verify_error is not None:
        code = verify_error.verify_code
        if code == 10 and "expired" not in info.problems:
            info.problems.append("expired")
        elif code == 9 and "not_yet_valid" not in info.problems:
            info.problems.append("not_yet_valid")
        elif code not in (9, 10):
            info.problems.append("chain")
    info.problems = [p for p in _ORDER if p in info.problems]
    certificate = [p for p in info.problems if p in _CERTIFICATE_PROBLEMS]
    info.certificate_ok = not certificate
    info.certificate_error = certificate[0] if certificate else None
    if certificate and info.detail is None:
        info.detail = _certificate_detail(info, verify_error)


_ORDER: tuple[str, ...] = (
    "expired",
    "not_yet_valid",
    "chain",
    "name",
    "protocol",
    "handshake",
    "starttls_refused",
)


def _certificate_detail(info: TlsInfo, error: ssl.SSLCertVerificationError | None) -> str:
    parts = []
    for problem in info.problems:
        if problem == "expired":
            parts.append(_("the certificate expired on {date}").format(date=info.not_after))
        elif problem == "not_yet_valid":
            parts.append(_("the certificate is not valid yet"))
        elif problem == "chain":
            why = error.verify_message if error is not None else _("untrusted")
            parts.append(_("the certificate chain is not trusted ({why})").format(why=why))
        elif problem == "name":
            shown = ", ".join(info.names[:5]) or _("no names")
            parts.append(
                _("the certificate is for {names}, not {name}").format(
                    names=shown, name=info.name_checked
                )
            )
    return "; ".join(parts)


# ---- the probe ---------------------------------------------------------------------------


async def probe_smtp(host: str, port: int, resolver: Resolver, settings: Settings) -> SmtpResult:
    """Probe `host` (a name or an address) on `port`: banner, EHLO, TLS, QUIT. Sends no mail."""
    host = host.strip().rstrip(".")
    base = SmtpResult(
        status="error",
        summary="",
        host=host,
        address=None,
        port=port,
        implicit_tls=port in settings.smtp_implicit_tls_ports,
        probed_from=socket.gethostname(),
    )
    refusal = port_refusal(port, settings)
    if refusal is not None:
        return _forbidden(base, refusal, _port_advice(port, settings))
    addresses, dns_problem = await resolve_addresses(host, resolver)
    base.addresses = addresses
    if dns_problem is not None:
        base.failure = "dns"
        base.summary = _("{host}: {problem}").format(host=host, problem=dns_problem)
        base.advice = [
            Advice(
                _("The name {host} does not give an address to probe ({problem}).").format(
                    host=host, problem=dns_problem
                )
            )
        ]
        return base
    for address in addresses:
        refusal = address_refusal(address, settings)
        if refusal is not None:
            if address != host:
                refusal = _("{host} resolves to {address}: {refusal}").format(
                    host=host, address=address, refusal=refusal
                )
            return _forbidden(base, refusal)
    address = addresses[0]
    base.address = address
    ptr_names = await _ptr_names(address, resolver)
    tls_name = host if address != host else (ptr_names[0] if ptr_names else None)

    session = await _Dialogue(address, port, settings, tls_name, verify=True).run()
    if session.verify_failed is not None:
        # The verified handshake stopped at the certificate; look again without verifying
        # to say what the certificate is (subject, expiry, names), then judge it.
        second = await _Dialogue(address, port, settings, tls_name, verify=False).run()
        info = second.tls or TlsInfo()
        _judge(info, session.verify_failed)
        info.detail = (
            (info.detail or "") + " " + _("(certificate read on a second, unverified connection)")
        )
        session.tls = info
        session.abort = _Abort("tls", info.detail, "tls")
    elif session.tls is not None and session.tls.problems and session.abort is None:
        session.abort = _Abort("tls", session.tls.detail or _("certificate problem"), "tls")

    return _finish(base, session, ptr_names)


async def resolve_addresses(host: str, resolver: Resolver) -> tuple[list[str], str | None]:
    """`host` itself when it is an address, else its A then AAAA records; or why none."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))], None
    except ValueError:
        pass
    answers = await asyncio.gather(resolver.lookup(host, "A"), resolver.lookup(host, "AAAA"))
    addresses = [r for a in answers for r in a.records if a.outcome == "answer"]
    if addresses:
        return addresses, None
    outcomes = {a.outcome for a in answers}
    if outcomes <= {"nxdomain", "nodata"}:
        return (
            [],
            _("the name does not exist")
            if "nxdomain" in outcomes
            else _("the name has no address"),
        )
    failed = next(a for a in answers if a.outcome not in ("nxdomain", "nodata", "answer"))
    error = f"{failed.outcome}: {failed.detail}" if failed.detail else failed.outcome
    return [], _("the address lookup failed ({error})").format(error=error)


async def _ptr_names(address: str, resolver: Resolver) -> list[str]:
    answer = await resolver.lookup(
        dns.reversename.from_address(address).to_text(omit_final_dot=True), "PTR"
    )
    return sorted(answer.records) if answer.outcome == "answer" else []


def _port_advice(port: int, settings: Settings) -> str:
    """What to do about a port the probe does not reach: the port is the matter, not where."""
    return _(
        "Port {port} is not a mail port this probe reaches: it connects only to {allowed}, so it "
        "cannot be used to scan other services. Probe the mail server on one of those ports; if "
        "port {port} really serves SMTP, the operator can add it to SMTPCHECK_SMTP_PORTS."
    ).format(port=port, allowed=", ".join(str(p) for p in settings.smtp_ports))


def _forbidden(result: SmtpResult, reason: str, advice: str | None = None) -> SmtpResult:
    """Not probed, for `reason`; `advice` says what to do (by default: a target that is not
    a public address)."""
    result.failure = "forbidden"
    result.status = "error"
    result.summary = _("Not probed: {reason}").format(reason=reason)
    said = advice or _(
        "The SMTP probe only connects to public addresses, so it cannot be used to "
        "reach inside a network: {reason}."
    ).format(reason=reason)
    result.advice = [Advice(said)]
    return result


#: The host name a greeting starts with (`220 mx.example.net ESMTP`); its last label has a
#: letter, so an enhanced status code (`554 5.7.1 ...`) is never taken for a name.
_BANNER_HOST = re.compile(
    r"^\d{3}[ -]((?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]*)(?![\w.-])"
)


def _finish(result: SmtpResult, session: _Session, ptr_names: list[str]) -> SmtpResult:
    result.steps = session.steps
    result.connect_ms = session.connect_ms
    result.banner = session.banner
    result.extensions = session.extensions
    result.extensions_tls = session.extensions_tls
    result.starttls = session.starttls
    result.tls = session.tls
    if session.banner:
        match = _BANNER_HOST.match(session.banner.splitlines()[0])
        result.banner_host = match.group(1).lower() if match else None
    if ptr_names:
        lowered = [p.lower() for p in ptr_names]
        result.ptr = result.banner_host if result.banner_host in lowered else ptr_names[0]
        if result.banner_host:
            result.banner_matches_ptr = result.banner_host in lowered
    where = _("{host} ({address}) port {port}").format(
        host=result.host, address=result.address, port=result.port
    )
    if result.host == result.address:
        where = _("{address} port {port}").format(address=result.address, port=result.port)
    abort = session.abort
    if abort is not None:
        result.failure = abort.failure
        result.status = _failure_status(abort.failure, result)
        result.summary = _("{where}: {failure}").format(
            where=where, failure=_failure_summary(abort, result)
        )
        result.advice = _failure_advice(abort, result)
        return result
    result.failure = None
    # In the language's own digits ("3,1 ms" in French), to a tenth under 10 ms.
    connect_ms = result.connect_ms or 0.0  # set once connected, which is where we are
    took = number(connect_ms, 1 if connect_ms < 10 else 0)
    notes = [_("connected in {ms} ms").format(ms=took)]
    if result.tls is not None:
        if result.tls.name_checked:
            said = (
                _("implicit TLS {version}, certificate valid")
                if result.implicit_tls
                else _("STARTTLS {version}, certificate valid")
            )
            notes.append(said.format(version=result.tls.version))
        else:
            said = (
                _(
                    "implicit TLS {version}, certificate chain and dates valid but not checked "
                    "against a name (probed by address, and the address has no PTR)"
                )
                if result.implicit_tls
                else _(
                    "STARTTLS {version}, certificate chain and dates valid but not checked "
                    "against a name (probed by address, and the address has no PTR)"
                )
            )
            notes.append(said.format(version=result.tls.version))
        result.status = "ok"
    else:
        notes.append(_("no STARTTLS offered"))
        result.status = "warn"
        result.advice = [
            Advice(
                _(
                    "The server does not offer STARTTLS, so mail to and from it travels "
                    "unencrypted and receivers with MTA-STS or DANE policies will not deliver. "
                    "Enable STARTTLS with a valid certificate."
                )
            )
        ]
    if result.banner_matches_ptr is False:
        notes.append(
            _("banner name {banner} differs from PTR {ptr}").format(
                banner=result.banner_host, ptr=result.ptr
            )
        )
    result.summary = _("{where}: SMTP ok, {notes}").format(where=where, notes=", ".join(notes))
    return result


def _failure_status(failure: Failure, result: SmtpResult) -> Status:
    if failure in ("forbidden", "dns"):
        return "error"
    # Between MTAs TLS is opportunistic: senders without MTA-STS/DANE still deliver.
    certificate_only = (
        result.tls is not None
        and bool(result.tls.problems)
        and all(p in _CERTIFICATE_PROBLEMS for p in result.tls.problems)
    )
    if failure == "tls" and result.port == 25 and certificate_only:
        return "warn"
    return "fail"


def _failure_summary(abort: _Abort, result: SmtpResult) -> str:
    if abort.failure == "refused":
        return _("connection refused (nothing listens)")
    if abort.failure == "timeout":
        if abort.step == "connect":
            return _("no answer to the connection (timeout, probed from {source})").format(
                source=result.probed_from
            )
        if abort.step == "banner":
            return _("connected, but the server never sent its greeting")
        return _("the server stopped answering at {step} ({detail})").format(
            step=abort.step, detail=abort.detail
        )
    if abort.failure == "unreachable":
        return _("unreachable ({detail})").format(detail=abort.detail)
    if abort.failure == "rejected" and not _has_reply(abort):
        return _("{detail}: a silent refusal or a firewall, not an SMTP reply").format(
            detail=abort.detail
        )
    if abort.failure == "rejected":
        said = (
            _("the server refuses us at its greeting: {reply}")
            if abort.step == "banner"
            else _("the server refuses us at {step}: {reply}")
        )
        return said.format(step=abort.step.upper(), reply=_oneline(abort.detail))
    if abort.failure == "tls":
        return _("TLS problem: {detail}").format(detail=abort.detail)
    return _("not SMTP: {detail}").format(detail=abort.detail)


def _failure_advice(abort: _Abort, result: SmtpResult) -> list[Advice]:
    target = _("{address} port {port}").format(address=result.address, port=result.port)
    if abort.failure == "refused":
        return [
            Advice(
                _(
                    "Nothing accepts connections on {target}: the connection was actively refused. Check that the mail server runs and listens on that address and port, and that no firewall in front of it rejects the port."
                ).format(target=target)
            )
        ]
    if abort.failure == "timeout" and abort.step == "connect":
        return [
            Advice(
                _(
                    "No answer from {target} within {timeout}: a firewall on the path drops the "
                    "traffic. Many cloud providers block outbound port 25 from their servers, and "
                    "this probe ran from {source}, so the block may be on the bot's side; check "
                    "from the mail server's own network too."
                ).format(target=target, timeout=_timeout_text(result), source=result.probed_from)
                + " "
                + _(_GUIDE_FIREWALL)
            )
        ]
    if abort.failure == "timeout":
        return [
            Advice(
                _(
                    "{target} accepted the connection but then fell silent ({step}). A firewall or IPS that inspects SMTP, a tarpitting server, or an overloaded one does this; check the server's logs and any SMTP inspection on the path."
                ).format(target=target, step=abort.step)
            )
        ]
    if abort.failure == "unreachable":
        return [
            Advice(
                _(
                    "There is no route to {target} from {probed_from} ({detail}). Check the address and the routing or firewall between them."
                ).format(target=target, probed_from=result.probed_from, detail=abort.detail)
            )
        ]
    if abort.failure == "rejected" and not _has_reply(abort):
        return [
            Advice(
                _(
                    "{target} accepted the connection, then closed it without any SMTP reply. "
                    "A server that limits connections per client (tcpwrappers, postscreen, a "
                    "connection-rate limit), a firewall or IPS that resets SMTP, or a crashed "
                    "mail server does this; its own logs say which."
                ).format(target=target)
            )
        ]
    if abort.failure == "rejected":
        code = abort.detail[:1]
        words = _oneline(abort.detail)
        if code == "4":
            return [
                Advice(
                    _(
                        "The server refused us for now (“{words}”): a temporary refusal, often rate limiting or greylisting. Try again later; if it persists, its words say why."
                    ).format(words=words)
                )
            ]
        return [
            Advice(
                _(
                    "The server refuses connections from this probe's address (“{words}”). Its words usually name the reason (a blocklist, a policy, an unknown client); fix that, or ask the server's postmaster."
                ).format(words=words)
            )
        ]
    if abort.failure == "tls":
        return [_tls_advice(result)]
    return [
        Advice(
            _(
                "Whatever listens on {target} does not speak SMTP ({detail}). Check that the port points at the mail server and not another service."
            ).format(target=target, detail=abort.detail)
        )
    ]


def _tls_advice(result: SmtpResult) -> Advice:
    info = result.tls or TlsInfo()
    first = info.problems[0] if info.problems else "handshake"
    texts = {
        "expired": _(
            "The server's certificate expired ({date}): renew it and reload the mail server."
        ),
        "not_yet_valid": _(
            "The server's certificate is not valid yet: check the server's clock and the "
            "certificate's dates."
        ),
        "chain": _(
            "The server's certificate is not trusted: it is self-signed or the server does not "
            "send the intermediate certificates. Install the full chain from a public CA."
        ),
        "name": _(
            "The server's certificate does not name {name} (it names {names}): get a certificate "
            "for the name clients use."
        ),
        "protocol": _("The server offers only old TLS versions: enable TLS 1.2 and 1.3."),
        "handshake": _("TLS fails ({detail}): check the server's TLS configuration."),
        "starttls_refused": _(
            "The server advertises STARTTLS but refuses it: fix its TLS configuration "
            "(certificate files, permissions) or stop advertising STARTTLS."
        ),
    }
    text = texts.get(first, _("TLS problem: {detail}")).format(
        date=info.not_after,
        name=info.name_checked,
        names=", ".join(info.names[:5]) or _("nothing"),
        detail=info.detail,
    )
    if result.port == 25 and first in _CERTIFICATE_PROBLEMS:
        text += " " + _(
            "Most senders still deliver over port 25, but those enforcing MTA-STS or DANE will not."
        )
    return Advice(text)


def _has_reply(abort: _Abort) -> bool:
    """True when the refusal is an SMTP reply (4xx/5xx), not a connection the server closed."""
    return abort.detail[:3].isdigit()


def _timeout_text(result: SmtpResult) -> str:
    for step in result.steps:
        if step.name == "connect":
            return step.reply.removeprefix("no answer within ")
    return _("the timeout")


def _oneline(text: str) -> str:
    return " / ".join(line.strip() for line in text.splitlines() if line.strip())[:300]
