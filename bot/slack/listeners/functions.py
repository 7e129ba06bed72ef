"""The `check_address` Workflow Builder step: inputs address and domain, outputs verdict and summary.

Bolt acknowledges `function_executed` itself; the step then ends with
functions.completeSuccess, or functions.completeError carrying the sentence a person
typing the same check would get (never a traceback).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.complete.async_complete import AsyncComplete
from slack_bolt.context.fail.async_fail import AsyncFail

from bot.grammar import UsageError
from bot.slack.delivery import new_error_id
from bot.slack.deps import deps_of
from bot.slack.language import settle
from bot.slack.surfaces import workflow_check
from handlers.i18n import N_, _

log = logging.getLogger("smtpcheck.slack")

FUNCTION = "check_address"
CRASHED = N_(
    "Sorry, something went wrong on smtpcheck's side (error id {error_id}). Run the step "
    "again; if it keeps happening, give the error id to whoever runs smtpcheck."
)


def register(app: AsyncApp) -> None:
    app.function(FUNCTION)(check_address)


async def check_address(
    inputs: dict[str, Any], complete: AsyncComplete, fail: AsyncFail, context: dict[str, Any]
) -> None:
    await settle()  # Bolt acknowledged the event; the outputs and errors are read
    try:
        outputs = await workflow_check(deps_of(context), inputs)
    except UsageError as exc:
        await fail(error=str(exc))
        return
    except Exception:
        error_id = new_error_id()
        log.exception("error %s in the check_address workflow step", error_id)
        await fail(error=_(CRASHED).format(error_id=error_id))
        return
    await complete(outputs=outputs)
