"""`smtpcheck`: the Slack grammar in the terminal, usable as a Nagios/Icinga check.

Flags may stand anywhere on the line: --json, --csv (ranges), --timeout SECONDS,
--sender ADDRESS, --helo NAME, --lang en|fr, --no-color. Exit codes: 0 ok, 1 warn, 2 fail, 3 error or bad input.
`smtpcheck bounce` with no text, or with `-`, reads the bounce from standard input: a whole
.eml does not fit in one argument (the kernel caps one at 128 KiB).
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import ipaddress
import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from typing import IO, Any, TextIO

from bot import service
from bot.config import ConfigError, make_resolver, settings_from_env
from bot.facts import TABLE_OVER, address_rows
from bot.grammar import (
    EXAMPLES,
    USAGE,
    Bounce,
    Check,
    Command,
    Dmarc,
    Help,
    History,
    Monitor,
    Range,
    Smtp,
    Spf,
    Unmonitor,
    Unwatch,
    UsageError,
    Watch,
    bad_input,
    parse,
)
from bot.paste import strip_invisible
from bot.terminal.text import render_all, render_host_table
from bot.untrusted import visible
from handlers import i18n
from handlers.i18n import N_, _, ngettext
from handlers.numbers import ascii_decimal
from handlers.ranges import TERMINAL_MIN_PREFIX, Progress, RangeResult, forecast
from handlers.report import Report
from handlers.results import Status, worst

log = logging.getLogger(__name__)

EXIT = {"ok": 0, "skipped": 0, "warn": 1, "fail": 2, "error": 3}
EXIT_USAGE = 3
#: Most bytes of a bounce read from standard input; the facts are at its start, and a
#: stream that never ends (`yes | smtpcheck bounce`) must not fill the memory.
MAX_STDIN = 16 << 20

_VALUE_FLAGS = ("--timeout", "--sender", "--helo", "--lang")
#: An option's shape (`--name`, `--name=value`, `-x`); `-` alone is standard input.
_FLAG_SHAPE = re.compile(r"^--?[A-Za-z][A-Za-z0-9-]*(=.*)?$", re.DOTALL)


@dataclasses.dataclass
class Options:
    json: bool = False
    csv: bool = False
    colour: bool | None = None
    timeout: float | None = None
    sender: str | None = None
    helo: str | None = None
    lang: str | None = None
    words: list[str] = dataclasses.field(default_factory=list)


def split_flags(argv: Sequence[str]) -> Options:
    """Pull the flags out of `argv` wherever they stand; the rest are grammar words."""
    options = Options()
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        name, _sep, inline = arg.partition("=")
        if arg == "--json":
            options.json = True
        elif arg == "--csv":
            options.csv = True
        elif arg in ("--no-color", "--no-colour"):
            options.colour = False
        elif arg in ("--color", "--colour"):
            options.colour = True
        elif arg in ("-h", "--help"):
            options.words = ["help"]
            return options
        elif name in _VALUE_FLAGS:
            if inline or "=" in arg:
                value = inline
            elif i + 1 < len(args):
                i += 1
                value = args[i]
            else:
                raise UsageError(_("{flag} needs a value.").format(flag=name))
            _set(options, name, value)
        elif arg == "--":
            options.words.extend(args[i + 1 :])
            break
        elif _FLAG_SHAPE.match(arg) and not (
            options.words and options.words[0].lower() == "bounce"
        ):
            # A flag the command does not have is said to be one (a bounce's text may hold
            # any word), not called "neither an IP address nor a host name".
            raise UsageError(_("{flag} is not an option of smtpcheck.").format(flag=arg[:60]))
        else:
            options.words.append(arg)
        i += 1
    return options


def _set(options: Options, name: str, value: str) -> None:
    if name == "--timeout":
        seconds = ascii_decimal(value)
        if seconds is None:
            raise UsageError(
                _("--timeout takes a number of seconds, not {value!r}.").format(value=value)
            )
        options.timeout = seconds
        if not 0 < seconds <= 300:
            raise UsageError(_("--timeout must be more than 0 and at most 300 seconds."))
    elif name == "--lang":
        if value.lower() not in i18n.LANGUAGES:
            raise UsageError(_("--lang takes en or fr, not {value!r}.").format(value=value))
        options.lang = value.lower()
    elif name == "--sender":
        options.sender = value
    else:
        options.helo = value


def _with_flags(command: Command, options: Options) -> Command:
    if options.csv and not isinstance(command, Range):
        raise UsageError(_("--csv applies to ranges, e.g. `smtpcheck 51.158.10.0/26 --csv`."))
    if isinstance(command, Spf | Dmarc):
        return dataclasses.replace(command, sender=options.sender, helo=options.helo)
    if options.sender or options.helo:
        raise UsageError(
            _(
                "--sender and --helo only apply to `smtpcheck spf DOMAIN IP` and `smtpcheck dmarc DOMAIN IP`."
            )
        )
    return command


#: The flags, for `smtpcheck help` (INTERFACE.md: help lists them).
FLAGS = N_("""\
Flags (anywhere on the line):
  --json               the report as JSON on standard output
  --csv                a range's table as CSV
  --timeout SECONDS    how long one DNS question may take (default: SMTPCHECK_TIMEOUT, 2)
  --lang en|fr         the language of the answer
  --sender ADDRESS     spf/dmarc: the envelope sender (default postmaster@DOMAIN)
  --helo NAME          spf/dmarc: the HELO name (default DOMAIN)
  --no-color           no colours, even on a terminal
Exit codes: 0 ok, 1 warn, 2 fail, 3 error or bad input.""")

#: What the terminal answers to each Slack-only verb: what the feature is, where it runs,
#: and what the terminal offers instead (INTERFACE.md: the terminal names only what it can do).
_SLACK_ONLY_ANSWERS = {
    "watch": N_(
        "Watches report in a Slack thread: start one there with "
        "`/smtpcheck watch IP [DOMAIN] [every 15m]`. In the terminal, run the check "
        "from cron or a monitoring system instead (exit codes 0-3)."
    ),
    "unwatch": N_(
        "Watches run in the Slack bot, not in the terminal: stop one in its channel with "
        "`/smtpcheck unwatch IP`, or with its Stop button in the bot's App Home."
    ),
    "monitor": N_(
        "Monitors are a Slack bot feature: the bot re-checks a whole range or egress pool "
        "against the blocklists on a schedule and posts only the changes in the channel. "
        "Start one there with `/smtpcheck monitor RANGE|POOL [every 1h]`. The terminal "
        "checks a range once, up to a /20: `smtpcheck 51.158.10.0/24`, which cron or a "
        "monitoring system can run (exit codes 0-3)."
    ),
    "unmonitor": N_(
        "Monitors run in the Slack bot, not in the terminal: stop one in its channel with "
        "`/smtpcheck unmonitor RANGE|POOL`, or with its Stop button in the bot's App Home."
    ),
}


#: Lines of the shared grammar that only the Slack bot can do (threads, schedules).
_SLACK_ONLY = tuple(f"/smtpcheck {verb}" for verb in _SLACK_ONLY_ANSWERS)


def slack_only_answer(words: Sequence[str]) -> str | None:
    """The sentence for a verb only the Slack bot has (watch, monitor, ...), else None."""
    if not words:
        return None
    verb = strip_invisible(words[0]).strip().lower()
    answer = _SLACK_ONLY_ANSWERS.get(verb)
    return _(answer) if answer else None


def terminal_help() -> str:
    """The grammar as the terminal has it (no watches: they report in Slack threads), the
    flags, and the exit codes."""
    lines = [line for line in _(USAGE).splitlines() if not line.startswith(_SLACK_ONLY)]
    grammar = "\n".join(lines).replace("/smtpcheck", "smtpcheck")
    grammar = grammar.replace("/24 ", "/20 ")
    examples = "\n".join(
        e.replace("/smtpcheck", "smtpcheck") for e in EXAMPLES if " watch " not in e
    )
    # Outside the f-string: pybabel (on Python 3.11) does not see a _() inside one.
    heading, examples_heading = _("Usage:"), _("Examples:")
    return f"{heading}\n{grammar}\n\n{_(FLAGS)}\n\n{examples_heading}\n{examples}"


def json_output(reports: Sequence[Report], command: Command) -> dict[str, Any]:
    """One report as INTERFACE.md's object; a host name's several addresses wrapped with a verdict."""
    if len(reports) == 1:
        return reports[0].to_json()
    target = command.target if isinstance(command, Check) else reports[0].target
    if isinstance(command, Check) and command.display:
        target = command.display
    every = [r.to_json() for r in reports]
    return {
        "target": target,
        "verdict": worst(r.verdict for r in reports),
        "addresses": address_rows(every),
        "reports": every,
    }


async def _run(command: Command, options: Options, err: TextIO | None = None) -> list[Report]:
    settings = settings_from_env(timeout=options.timeout)
    if isinstance(command, Smtp) and command.port not in settings.smtp_ports:
        # The terminal is the operator's own tool: it probes the port it is given. Only the
        # Slack bot, which anyone in the workspace can drive, keeps to SMTPCHECK_SMTP_PORTS.
        settings = dataclasses.replace(settings, smtp_ports=(*settings.smtp_ports, command.port))
    resolver = make_resolver(settings)
    progress = progress_bar(err) if isinstance(command, Range) and err is not None else None
    if progress is not None and isinstance(command, Range) and err is not None:
        size = ipaddress.IPv4Network(command.network).num_addresses
        print(forecast(size, settings), file=err)
    try:
        return await service.run(command, resolver, settings, progress)
    finally:
        resolver.close()


def progress_bar(stream: TextIO, width: int = 30) -> Progress | None:
    """A one-line bar on `stream` for a range, or None when it is not a terminal (logs, pipes)."""
    if not stream.isatty():
        return None

    def show(done: int, total: int) -> None:
        filled = width * done // max(total, 1)
        bar = "#" * filled + "." * (width - filled)
        counted = ngettext("{done}/{total} address", "{done}/{total} addresses", total)
        stream.write(f"\r[{bar}] " + counted.format(done=done, total=total))
        if done >= total:
            stream.write("\r" + " " * (width + 30) + "\r")
        stream.flush()

    return show


def render_range(report: Report) -> str:
    """A range in the terminal: verdict and summary, the table (listed first), notes, advice."""
    result = report.checks["range"]
    assert isinstance(result, RangeResult)
    lines = [f"{result.network}: {report.verdict.upper()}", result.summary, "", result.table()]
    lines += [_("note: {note}").format(note=note) for note in result.notes]
    for item in report.advice:
        lines.append(f"- {item.text}" + (f" {item.url}" if item.url else ""))
    return "\n".join(lines)


def _keep(reports: Sequence[Report], command: Command) -> str | None:
    """Store the reports when a database is configured, so `smtpcheck history` sees them.

    Without SMTPCHECK_DATABASE_URL the terminal writes nothing: a monitoring check must not
    leave files behind in whatever directory it runs from, nor import SQLAlchemy and
    Alembic. Returns why the reports could not be stored, or None.
    """
    url = os.environ.get("SMTPCHECK_DATABASE_URL", "").strip()
    if not url or isinstance(command, Range):  # a range is a table, not one address's history
        return None
    from bot.store import Store, StoreError

    domain = command.domain if isinstance(command, Check) else None
    try:
        store = Store.open(url)
        try:
            for report in reports:
                store.save_report(report.to_json(), domain=domain, user_id=f"terminal:{_user()}")
        finally:
            store.close()
    except StoreError as exc:
        return str(exc)
    except Exception as exc:  # down, read-only, corrupt, full: the report is printed anyway
        return _first_line(exc)
    return None


def _first_line(exc: Exception) -> str:
    """A database error in one line (SQLAlchemy appends the statement and a help URL)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _user() -> str:
    try:
        return os.getlogin()
    except OSError:
        return os.environ.get("USER", "unknown")


def _history(command: History, options: Options, out: TextIO, err: TextIO) -> int:
    """The stored reports of an address; without SMTPCHECK_DATABASE_URL there are none.

    The terminal stores nothing unless a database is configured, so it never creates one
    either (a history command run from any directory must not leave a file behind).
    """
    url = os.environ.get("SMTPCHECK_DATABASE_URL", "").strip()
    if not url:
        print(
            _(
                "The terminal keeps no history unless SMTPCHECK_DATABASE_URL is set (for example "
                "sqlite:////var/lib/smtpcheck/history.db); set it to keep and read reports."
            ),
            file=err,
        )
        return EXIT_USAGE
    from bot.store import HISTORY_NOTE, Store, StoreError, history_json, history_lines

    try:
        store = Store.open(url)
    except StoreError as exc:
        print(str(exc), file=err)
        return EXIT_USAGE
    try:
        entries = store.history(command.target)
    except Exception as exc:  # the database broke after it opened
        print(_first_line(exc), file=err)
        return EXIT_USAGE
    finally:
        store.close()
    if options.json:
        print(json.dumps(history_json(entries), indent=2, ensure_ascii=False), file=out)
        return 0
    lines = history_lines(entries)
    if not lines:
        print(_("No reports of {target} yet.").format(target=command.target), file=out)
        return 0
    print("\n".join(lines), file=out)
    print(_(HISTORY_NOTE), file=err)  # a remark about the lines, not one of them
    return 0


def main(
    argv: Sequence[str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    stdin: IO[Any] | None = None,
) -> int:
    """Entry point of the `smtpcheck` console script; returns the exit code (0-3, never other).

    An unexpected exception is a defect, but it must not exit 1: monitoring reads 1 as
    "warn". It is reported in one line on stderr and exits 3 ("unknown"), like bad input.
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    argv = sys.argv[1:] if argv is None else argv
    try:
        with i18n.use(i18n.from_environment(os.environ, _lang_flag(argv))):
            return _main(argv, out, err, stdin or sys.stdin)
    except BrokenPipeError:
        # The reader went away (`smtpcheck ... | head`): nothing more can be said on stdout.
        _silence(out)
        return EXIT_USAGE
    except Exception as exc:
        log.debug("smtpcheck failed", exc_info=True)
        print(f"smtpcheck: internal error ({type(exc).__name__}: {exc})", file=err)
        return EXIT_USAGE


def _lang_flag(argv: Sequence[str]) -> str | None:
    """The `--lang` value, read before anything else so even a usage error is in that language."""
    for n, arg in enumerate(argv):
        if arg == "--":
            return None
        if arg.startswith("--lang="):
            return arg.partition("=")[2]
        if arg == "--lang" and n + 1 < len(argv):
            return argv[n + 1]
    return None


def _silence(stream: TextIO) -> None:
    """Point a closed pipe at /dev/null so the interpreter's final flush cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


def command_line(words: Sequence[str]) -> str:
    """The words as one line for the grammar; a word the shell kept whole despite a space
    (`spf 'exa mple.com'`) is quoted, so the grammar names all of it. A bounce's text is
    left as typed."""
    if words and words[0].lower() == "bounce":
        return " ".join(words)
    return " ".join(
        f'"{word}"' if any(ch.isspace() for ch in word) and '"' not in word else word
        for word in words
    )


def reads_stdin(words: Sequence[str]) -> bool:
    """True for `bounce` alone or `bounce -`: the bounce comes on standard input."""
    return bool(words) and words[0].lower() == "bounce" and list(words[1:]) in ([], ["-"])


def read_bounce(stream: IO[Any], err: TextIO) -> Bounce:
    """The bounce on `stream` (at most MAX_STDIN bytes, any encoding), or UsageError when empty."""
    if stream.isatty():
        print(_("Paste the bounce, then press Ctrl-D on a line of its own."), file=err)
    binary = getattr(stream, "buffer", stream)
    data = binary.read(MAX_STDIN)
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
    if not text.strip():
        raise UsageError(
            _(
                "Paste the bounce or rejection text after `bounce`, or pipe it in: "
                "`smtpcheck bounce < bounce.eml`."
            )
        )
    return Bounce(text.strip())


def _main(argv: Sequence[str], out: TextIO, err: TextIO, stdin: IO[Any]) -> int:
    try:
        options = split_flags(argv)
        slack_only = slack_only_answer(options.words)
        if slack_only is not None:
            # Before the grammar: what follows the verb does not matter here, and its
            # errors ("a range up to /22") would be about a feature the terminal lacks.
            print(slack_only, file=err)
            return EXIT_USAGE
        if reads_stdin(options.words):
            command: Command = _with_flags(read_bounce(stdin, err), options)
        else:
            command = _with_flags(
                parse(command_line(options.words), widest_range=TERMINAL_MIN_PREFIX, any_port=True),
                options,
            )
    except UsageError as exc:
        print(visible(bad_input(str(exc), "smtpcheck")), file=err)
        return EXIT_USAGE
    if isinstance(command, Help):
        print(terminal_help(), file=out)
        return 0
    if isinstance(command, History):
        return _history(command, options, out, err)
    if isinstance(command, (Watch, Unwatch, Monitor, Unmonitor)):  # the verb inside one argument
        print(slack_only_answer([type(command).__name__]), file=err)
        return EXIT_USAGE
    try:
        reports = asyncio.run(_run(command, options, err))
    except UsageError as exc:
        print(visible(bad_input(str(exc), "smtpcheck")), file=err)
        return EXIT_USAGE
    except ConfigError as exc:
        print(str(exc), file=err)
        return EXIT_USAGE
    problem = _keep(reports, command)
    if problem:
        print(_("The report could not be stored: {error}").format(error=problem), file=err)
    verdict: Status = worst(r.verdict for r in reports)
    range_result = reports[0].checks.get("range") if isinstance(command, Range) else None
    if options.csv and isinstance(range_result, RangeResult):
        out.write(range_result.to_csv())
    elif options.json:
        print(json.dumps(json_output(reports, command), indent=2, ensure_ascii=False), file=out)
    else:
        colour = options.colour
        if colour is None:
            colour = out.isatty() and "NO_COLOR" not in os.environ
        if isinstance(command, Range):
            print(render_range(reports[0]), file=out)
        elif isinstance(command, Check) and command.is_hostname and len(reports) > TABLE_OVER:
            name = command.display or command.target
            print(render_host_table(name, [r.to_json() for r in reports], colour=colour), file=out)
        else:
            print(render_all([r.to_json() for r in reports], colour=colour), file=out)
    return EXIT[verdict]


if __name__ == "__main__":
    raise SystemExit(main())
