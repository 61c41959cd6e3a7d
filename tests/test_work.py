"""A folded event's member: what little is kept of it gives its digest line back whole."""

from __future__ import annotations

import pytest

from consumer.engine.work import Member
from translate.digest import SEPARATOR, Line


@pytest.mark.parametrize("message_id", ["m-1", None])
def test_a_member_gives_back_the_line_it_was_made_of(message_id: str | None) -> None:
    parts = ["2026-11-30T10:00:00+00:00", "Viewed Pricing", "plan: pro"]
    if message_id is not None:
        parts.append(f"messageId: {message_id}")
    line = Line("track", parts[0], "Viewed Pricing", SEPARATOR.join(parts), message_id, "Trial")
    member = Member.of_line(7, line)
    assert member.line == line
    if message_id is not None:
        assert message_id not in (member.text or "")  # kept once, not twice


def test_an_identify_member_has_no_line() -> None:
    assert Member(3, "m-3", "identify").line is None
