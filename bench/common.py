"""What every benchmark shares: its one error, and how its figures reach the terminal."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, Protocol, TypeVar


class BenchmarkError(RuntimeError):
    """The benchmark measured the wrong thing (a wrong result, or traffic gone elsewhere)."""


class _Figures(Protocol):
    def to_json(self) -> dict[str, Any]: ...


F = TypeVar("F", bound=_Figures)


def report(measure: Callable[[], F], render: Callable[[F], str], as_json: bool) -> int:
    """Measure, then print the table (or JSON); exit status 1, saying why, if it measured wrong."""
    try:
        figures = measure()
    except BenchmarkError as exc:
        print(f"benchmark aborted: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(figures.to_json(), indent=2) if as_json else render(figures))
    return 0
