"""The full check of one address: blocklists, PTR and, with a domain, SPF, DMARC and DKIM.

All start together, so the report takes about as long as the slowest chain of DNS
round trips, not the sum of them. DMARC's alignment waits for the same SPF evaluation
the report shows, instead of running a second one. PTR, SPF, DMARC and DKIM are
imported only when the scope asks for them: `bl IP` is the monitoring check run every
minute.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Literal

from handlers.dns.priority import first_wave
from handlers.dns.resolver import Resolver
from handlers.dnsbl import DnsblResult, check_dnsbl
from handlers.pools import pool_for
from handlers.report import Report
from handlers.results import CheckResult
from handlers.settings import Settings

Scope = Literal["full", "bl", "ptr"]


async def full_check(
    ip: str,
    domain: str | None,
    resolver: Resolver,
    settings: Settings,
    *,
    scope: Scope = "full",
    hostname: str | None = None,
    selectors: list[str] | None = None,
) -> Report:
    """Run the checks `scope` asks for on `ip` concurrently and gather them in a Report.

    `selectors`: DKIM selectors known for the domain (e.g. from a bounce's DKIM-Signature);
    without them the common ones are asked.
    """
    started_at = datetime.now(UTC)
    start = time.perf_counter()
    first_wave()  # a new check: its questions queue behind older checks', ahead of newer ones
    jobs: dict[str, asyncio.Task[CheckResult]] = {}
    async with asyncio.TaskGroup() as group:
        if scope in ("full", "bl"):
            jobs["dnsbl"] = group.create_task(check_dnsbl(ip, resolver, settings))
        if scope in ("full", "ptr"):
            from handlers.ptr import check_ptr

            jobs["ptr"] = group.create_task(check_ptr(ip, resolver, settings))
        if scope == "full":
            from handlers.spf import check_spf

            spf = group.create_task(check_spf(domain, ip, resolver, settings))
            jobs["spf"] = spf
            if domain:
                from handlers.dkim import check_dkim
                from handlers.dmarc import check_dmarc

                jobs["dmarc"] = group.create_task(
                    check_dmarc(domain, ip, resolver, settings, spf=spf)
                )
                jobs["dkim"] = group.create_task(check_dkim(domain, selectors, resolver))
    report = Report(
        target=ip,
        checks={name: job.result() for name, job in jobs.items()},
        started_at=started_at,
        duration_ms=(time.perf_counter() - start) * 1000,
        resolver=resolver.description,
        hostname=hostname,
    )
    apply_pool(report, settings)
    return report


def apply_pool(report: Report, settings: Settings) -> None:
    """Say when the address is in one of the operator's egress pools, and use what is known.

    The pool's own word on PTR (how to get one, or that the region cannot have one) and on
    the PBL goes first in the advice: it is more specific than the generic text.
    """
    pool = pool_for(report.target, settings.pools)
    if pool is None:
        return
    report.pool = pool.to_json()
    report.notes.append(pool.note())
    ptr = report.checks.get("ptr")
    if ptr is not None and ptr.status in ("fail", "warn"):
        from handlers.i18n import _
        from handlers.ptr import REGIONS

        # The pool knows whether its region can have PTR records: the generic "some regions
        # cannot" note would only contradict it.
        regions = _(REGIONS)
        ptr.advice = [pool.ptr_advice(), *(a for a in ptr.advice if a.text != regions)]
    dnsbl = report.checks.get("dnsbl")
    advice = pool.pbl_advice()
    policy = isinstance(dnsbl, DnsblResult) and any(i.kind == "policy" for i in dnsbl.listed)
    if policy and dnsbl is not None and advice is not None:
        dnsbl.advice.insert(0, advice)
