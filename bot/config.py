"""Configuration from the environment, with one clear sentence per mistake.

Every variable is documented in INTERFACE.md's environment table; nothing else
reads `os.environ`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from handlers.catalogue import CatalogueError, load
from handlers.dns.budget import DEFAULT_QUESTION_BUDGET
from handlers.dns.resolver import (
    DEFAULT_CACHE_SIZE,
    NameserverSpecError,
    Resolver,
    parse_nameservers,
)
from handlers.i18n import DEFAULT as DEFAULT_LANGUAGE
from handlers.i18n import LANGUAGES, Language, _
from handlers.numbers import ascii_decimal, ascii_int, port_number
from handlers.pools import PoolsError, load_pools
from handlers.settings import Settings


class ConfigError(Exception):
    """A setting that cannot be used; the message names the variable."""


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    value = ascii_decimal(raw)
    if value is None:
        raise ConfigError(
            _("{name} must be a number of seconds, not {raw!r}.").format(name=name, raw=raw)
        )
    if not 0 < value <= 300:
        raise ConfigError(
            _("{name} must be more than 0 and at most 300 seconds, not {raw!r}.").format(
                name=name, raw=raw
            )
        )
    return value


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    value = ascii_int(raw)
    if value is None:
        raise ConfigError(
            _("{name} must be a whole number, not {raw!r}.").format(name=name, raw=raw)
        )
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def settings_from_env(
    env: Mapping[str, str] | None = None, *, timeout: float | None = None
) -> Settings:
    """Handler settings from SMTPCHECK_* and SPAMHAUS_DQS_KEY (`timeout` overrides, e.g. --timeout)."""
    env = os.environ if env is None else env
    nameservers: tuple[tuple[str, int], ...] = ()
    spec = env.get("SMTPCHECK_NAMESERVERS", "").strip()
    if spec:
        try:
            nameservers = tuple(parse_nameservers(spec))
        except NameserverSpecError as exc:
            raise ConfigError(_("SMTPCHECK_NAMESERVERS: {exc}.").format(exc=exc)) from None
    zones_file = env.get("SMTPCHECK_ZONES", "").strip() or None
    try:
        catalogue = load(zones_file)
    except CatalogueError as exc:
        raise ConfigError(_("SMTPCHECK_ZONES: {exc}.").format(exc=exc)) from None
    pools_file = env.get("SMTPCHECK_POOLS", "").strip()
    try:
        pools = load_pools(pools_file) if pools_file else ()
    except PoolsError as exc:
        raise ConfigError(_("SMTPCHECK_POOLS: {exc}.").format(exc=exc)) from None
    return Settings(
        catalogue=catalogue,
        pools=pools,
        egress_reference=_reference(env),
        nameservers=nameservers,
        timeout=timeout if timeout is not None else _float(env, "SMTPCHECK_TIMEOUT", 2.0),
        dqs_key=env.get("SPAMHAUS_DQS_KEY", "").strip() or None,
        smtp_timeout=_float(env, "SMTPCHECK_SMTP_TIMEOUT", 15.0),
        smtp_ports=_ports(env),
        allow_private_targets=_flag(env, "SMTPCHECK_ALLOW_PRIVATE_TARGETS"),
        dns_cache_size=_count(env, "SMTPCHECK_DNS_CACHE_SIZE", DEFAULT_CACHE_SIZE),
        question_budget=_count(env, "SMTPCHECK_QUESTION_BUDGET", DEFAULT_QUESTION_BUDGET),
    )


def _ports(env: Mapping[str, str]) -> tuple[int, ...]:
    """SMTPCHECK_SMTP_PORTS: the ports the probe may reach from Slack (default 25,465,587,2525)."""
    raw = env.get("SMTPCHECK_SMTP_PORTS", "").strip()
    if not raw:
        return Settings().smtp_ports
    ports: list[int] = []
    for item in raw.split(","):
        word = item.strip()
        if not (word.isascii() and word.isdigit() and 0 < int(word) < 65536):
            raise ConfigError(
                _(
                    "SMTPCHECK_SMTP_PORTS must be port numbers separated by commas, not {raw!r}."
                ).format(raw=raw)
            )
        ports.append(int(word))
    return tuple(dict.fromkeys(ports))


_DEFAULT_REFERENCE: tuple[str, int] | None = next(
    f.default for f in fields(Settings) if f.name == "egress_reference"
)  # type: ignore[assignment]  # a plain default, never MISSING


def _reference(env: Mapping[str, str]) -> tuple[str, int] | None:
    """SMTPCHECK_EGRESS_REFERENCE: `host[:port]` of the MX that echoes our address; `off` disables."""
    raw = env.get("SMTPCHECK_EGRESS_REFERENCE", "").strip()
    if not raw:
        return _DEFAULT_REFERENCE
    if raw.lower() in ("off", "none", "0"):
        return None
    host, _sep, port = raw.rpartition(":") if raw.count(":") == 1 else (raw, "", "25")
    number = port_number(port)
    if number is None:
        raise ConfigError(
            _("SMTPCHECK_EGRESS_REFERENCE must be host[:port], not {raw!r}.").format(raw=raw)
        )
    return (host or raw), number


def make_resolver(settings: Settings) -> Resolver:
    """The one resolver for this event loop, on the configured nameservers."""
    return Resolver(
        settings.nameservers,
        timeout=settings.timeout,
        max_in_flight=settings.max_in_flight,
        per_list_rate=settings.per_list_rate,
        cache_size=settings.dns_cache_size,
    )


@dataclass(frozen=True)
class SlackConfig:
    """What the Slack app needs besides the handler settings."""

    bot_token: str
    signing_secret: str
    app_token: str | None = None
    api_url: str | None = None
    port: int = 3000
    database_url: str = "sqlite:///smtpcheck.db"
    allowed_channels: frozenset[str] = field(default_factory=frozenset)
    allowed_users: frozenset[str] = field(default_factory=frozenset)
    #: Checks one person may start per minute.
    user_rate_per_minute: int = 10
    #: The language of people whose Slack locale is not one we answer in (SMTPCHECK_LANGUAGE).
    language: Language = DEFAULT_LANGUAGE

    def __repr__(self) -> str:  # never show secrets, even in a traceback
        return f"SlackConfig(app_token={'set' if self.app_token else 'unset'}, port={self.port})"


def _ids(env: Mapping[str, str], name: str) -> frozenset[str]:
    return frozenset(x.strip() for x in env.get(name, "").split(",") if x.strip())


def default_language(env: Mapping[str, str]) -> Language:
    """SMTPCHECK_LANGUAGE: `en` or `fr` (a locale such as `fr_FR` is taken too)."""
    raw = env.get("SMTPCHECK_LANGUAGE", "").strip()
    if not raw:
        return DEFAULT_LANGUAGE
    base = raw.replace("_", "-").split("-")[0].lower()
    if base not in LANGUAGES:
        raise ConfigError(_("SMTPCHECK_LANGUAGE must be en or fr, not {raw!r}.").format(raw=raw))
    return "fr" if base == "fr" else "en"


def slack_from_env(env: Mapping[str, str] | None = None) -> SlackConfig:
    """Slack settings; a missing credential ends with a sentence naming the variable."""
    env = os.environ if env is None else env
    token = env.get("SLACK_BOT_TOKEN", "").strip()
    if not token:
        raise ConfigError(
            _(
                "SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token (xoxb-...) from your Slack app's OAuth & Permissions page."
            )
        )
    app_token = env.get("SLACK_APP_TOKEN", "").strip() or None
    secret = env.get("SLACK_SIGNING_SECRET", "").strip()
    if not secret and not app_token:
        raise ConfigError(
            _(
                "SLACK_SIGNING_SECRET is not set: copy the Signing Secret from your Slack app's Basic Information page (or set SLACK_APP_TOKEN for Socket Mode)."
            )
        )
    port_text = env.get("PORT", "3000").strip() or "3000"
    port = port_number(port_text)
    if port is None:
        raise ConfigError(
            _("PORT must be a port number, not {port_text!r}.").format(port_text=port_text)
        )
    rate_text = env.get("SMTPCHECK_USER_RATE", "10").strip() or "10"
    rate = ascii_int(rate_text)
    if rate is None:
        raise ConfigError(
            _(
                "SMTPCHECK_USER_RATE must be a whole number of checks per minute, not {rate_text!r}."
            ).format(rate_text=rate_text)
        )
    return SlackConfig(
        language=default_language(env),
        bot_token=token,
        signing_secret=secret,
        app_token=app_token,
        api_url=env.get("SLACK_API_URL", "").strip() or None,
        port=port,
        database_url=env.get("SMTPCHECK_DATABASE_URL", "").strip() or "sqlite:///smtpcheck.db",
        allowed_channels=_ids(env, "SMTPCHECK_ALLOWED_CHANNELS"),
        allowed_users=_ids(env, "SMTPCHECK_ALLOWED_USERS"),
        user_rate_per_minute=rate,
    )
