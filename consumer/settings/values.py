"""How one setting's text becomes its value, and what the user is told when it cannot.

Each parser raises ValueError with a message that completes "VARIABLE: …", in the user's terms
(what was expected, what was given), so that the settings can list every problem in one message.
The secrets have no parser: a message about them must never quote them. ``problem_lines`` turns
pydantic's report into those lines.

Only text is parsed. A value that is already typed (passed by code, not read from text) goes
straight to pydantic's own check of its type: the rules here are for what people write.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Annotated, Final

from pydantic import BeforeValidator, ValidationError

from translate import Flavor, Pattern, parse_patterns


def parsed(parse: Callable[[str], object]) -> BeforeValidator:
    def validate(value: object) -> object:
        return parse(value) if isinstance(value, str) else value

    return BeforeValidator(validate)


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


def _int(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value.strip())
        except ValueError:
            raise ValueError(f"expected a whole number, got {value!r}") from None
        if number < low or (high is not None and number > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise ValueError(f"must be {bound}, got {number}")
        return number

    return parse


def _fraction(value: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise ValueError(f"expected a number, got {value!r}") from None
    if not 0 < number <= 1:
        raise ValueError(f"must be more than 0 and at most 1, got {value.strip()}")
    return number


def _flag(value: str) -> bool:
    text = value.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _choice(*options: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        chosen = value.strip().lower()
        if chosen not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {value!r}")
        return chosen

    return parse


def _protocol(value: str) -> str:
    return _choice("plaintext", "ssl", "sasl_plaintext", "sasl_ssl")(value).upper()


def _flavor(value: str) -> Flavor:
    return Flavor(_choice("suite", "classic")(value))


def _stage_map(value: str) -> Mapping[str, str]:
    pairs: dict[str, str] = {}
    for item in filter(str.strip, value.split(",")):
        event, sep, stage = item.partition("=")
        if not sep or not event.strip() or not stage.strip():
            raise ValueError(f"expected 'Event Name=Stage Name, …', got {item.strip()!r}")
        pairs[event.strip()] = stage.strip()
    return pairs


def _included(value: str) -> tuple[Pattern, ...]:
    patterns = parse_patterns(value)
    if not patterns:
        raise ValueError("names no pattern: nothing would reach Freshsales (the default is *)")
    return patterns


_CUSTOM_FIELD: Final = re.compile(r"cf_[a-z0-9_]+\Z")


def _custom_field(value: str) -> str:
    name = value.strip()
    if not _CUSTOM_FIELD.match(name):
        raise ValueError(f"expected a custom field's internal name, cf_…, got {value!r}")
    return name


def _digest(value: str) -> str:
    """``auto``, ``off`` or a whole number of seconds (kept as text: ``Settings`` reads it)."""
    text = value.strip().lower()
    if text in ("auto", "off"):
        return text
    try:
        seconds = int(text)
    except ValueError:
        raise ValueError(f"expected auto, off or a number of seconds, got {value!r}") from None
    if not 1 <= seconds <= 86_400:
        raise ValueError(f"seconds must be between 1 and 86400, got {seconds}")
    return str(seconds)


def whole(low: int, high: int | None = None) -> BeforeValidator:
    """A whole number of at least ``low`` (and at most ``high``)."""
    return parsed(_int(low, high))


def choice(*options: str) -> BeforeValidator:
    """One of ``options``, in any case."""
    return parsed(_choice(*options))


Text = Annotated[str, parsed(_text)]
Flag = Annotated[bool, parsed(_flag)]
Fraction = Annotated[float, parsed(_fraction)]
Protocol = Annotated[str, parsed(_protocol)]
FlavorName = Annotated[Flavor, parsed(_flavor)]
StageMap = Annotated[Mapping[str, str], parsed(_stage_map)]
Patterns = Annotated[tuple[Pattern, ...], parsed(parse_patterns)]
Included = Annotated[tuple[Pattern, ...], parsed(_included)]
CustomField = Annotated[str, parsed(_custom_field)]
DigestMode = Annotated[str, parsed(_digest)]


def problem_lines(error: ValidationError, help: Mapping[str, str]) -> list[str]:
    """pydantic's report as one line per problem: the variable and what is wrong, in our words.

    ``help`` maps each variable to its help text, which says what a missing one is for."""
    found: list[str] = []
    for detail in error.errors(include_url=False, include_input=False):
        cause = detail.get("ctx", {}).get("error")
        # A ValueError is ours, worded for users; pydantic's own message (a value of a type the
        # code never produces) says what was expected, never what was given.
        said = str(cause) if isinstance(cause, ValueError) else detail["msg"]
        if not detail["loc"]:
            found += said.splitlines()  # the checks across settings, one problem a line
            continue
        variable = str(detail["loc"][0])
        if detail["type"] == "missing":
            found.append(f"{variable} is required ({help[variable]})")
        else:
            found.append(f"{variable}: {said}")
    return found
