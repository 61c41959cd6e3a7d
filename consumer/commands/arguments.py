"""Argument types for the command line: numbers within bounds and ISO times, each failing with
one message that names what was wrong (argparse prefixes the option)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime


def whole(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {_bounds(low, high)}, got {text}")
        return value

    return parse


def number(low: float, high: float | None = None, *, above: bool = False) -> Callable[[str], float]:
    """A decimal number in [low, high] (``above``: more than ``low``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        too_low = value <= low if above else not value >= low  # NaN is never in range
        if too_low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {_bounds(low, high, above)}, got {text}")
        return value

    return parse


def moment(text: str) -> datetime:
    """An ISO 8601 time; one without an offset is taken as UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _bounds(low: float, high: float | None, above: bool = False) -> str:
    if high is None:
        return f"more than {low:g}" if above else f">= {low:g}" if low == 0 else f"at least {low:g}"
    if above:
        return f"more than {low:g} and at most {high:g}"
    return f"within {low:g}..{high:g}"
