"""Which dead letters ``dlq replay`` re-publishes, and how: pure decisions and the values that
report them (``Listed``, ``Summary``); no I/O, no clock.

A letter is the original record plus our ``fsd-`` headers (``consumer.kafka.deadletters``).
Replaying it means sending the original key and value back to the source topic with the original
headers and one of ours, ``fsd-replay-count``, so that a letter replayed and dead-lettered again
says how often that has happened (``letter_headers`` carries the count into the new letter).
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from consumer.kafka.deadletters import PREFIX, REPLAY_COUNT, Headers, header

NO_REASON: Final = "(none)"
RawHeaders = Sequence[tuple[str, bytes | None]]


@dataclass(frozen=True, slots=True)
class Filters:
    """What to replay. Empty ``reasons``: every reason. ``since`` is inclusive, ``until`` is not,
    so consecutive windows (``--since A --until B``, then ``--since B``) never overlap."""

    reasons: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError("--since must be earlier than --until")
        if self.limit is not None and self.limit < 1:
            raise ValueError("--limit must be at least 1")

    @property
    def windowed(self) -> bool:
        return self.since is not None or self.until is not None


def parse_moment(text: str) -> datetime:
    """An ISO 8601 time; one without an offset is taken as UTC, as the letters' times are."""
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def reason_of(headers: RawHeaders) -> str:
    return header(headers, "reason") or NO_REASON


def dead_lettered_at(headers: RawHeaders, timestamp_ms: int | None) -> datetime | None:
    """When the letter was written: our header, else the record's timestamp (e.g. a letter from
    an older release without the header), else unknown."""
    text = header(headers, "dead-lettered-at")
    if text:
        try:
            return parse_moment(text)
        except ValueError:
            pass
    if timestamp_ms is not None and timestamp_ms >= 0:
        return datetime.fromtimestamp(timestamp_ms / 1000, UTC)
    return None


def matches(filters: Filters, headers: RawHeaders, timestamp_ms: int | None) -> bool:
    """Reason and time window; the limit is counted by ``Selection``."""
    if filters.reasons and reason_of(headers) not in filters.reasons:
        return False
    if not filters.windowed:
        return True
    at = dead_lettered_at(headers, timestamp_ms)
    if at is None:
        return False  # a letter of unknown age cannot be shown to lie within the window
    if filters.since is not None and at < filters.since:
        return False
    return filters.until is None or at < filters.until


def replay_count(headers: RawHeaders) -> int:
    """How often this letter's event was replayed before: 0 for a first failure."""
    text = header(headers, REPLAY_COUNT)
    try:
        return max(int(text), 0) if text is not None else 0
    except ValueError:
        return 0


def replay_headers(headers: RawHeaders) -> Headers:
    """The original headers, byte for byte and in order, without ours, plus the new count.

    Our other headers are dropped: the service would only have to ignore them, and a new letter
    gets fresh ones anyway."""
    kept: Headers = [(k, v) for k, v in headers if not k.startswith(PREFIX)]
    kept.append((PREFIX + REPLAY_COUNT, str(replay_count(headers) + 1).encode()))
    return kept


def destination(headers: RawHeaders, default_topic: str) -> str:
    """The topic the event was consumed from; letters lacking the header go to ``KAFKA_TOPIC``."""
    return header(headers, "source-topic") or default_topic


@dataclass(frozen=True, slots=True)
class Listed:
    """One selected letter as the listing shows it; ``replay_count`` is the one sent along."""

    action: str  # replayed | would_replay | missing_topic | failed
    dlq_partition: int
    dlq_offset: int
    reason: str
    dead_lettered_at: datetime | None
    topic: str
    source_partition: str | None
    source_offset: str | None
    replay_count: int
    message_id: str | None
    key: bytes | None

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "dlq_partition": self.dlq_partition,
            "dlq_offset": self.dlq_offset,
            "reason": self.reason,
            "dead_lettered_at": self.dead_lettered_at.isoformat()
            if self.dead_lettered_at
            else None,
            "topic": self.topic,
            "source_partition": self.source_partition,
            "source_offset": self.source_offset,
            "replay_count": self.replay_count,
            "message_id": self.message_id,
            "key": self.key.decode("utf-8", "replace") if self.key is not None else None,
        }

    def text(self) -> str:
        at = self.dead_lettered_at.isoformat() if self.dead_lettered_at else "-"
        source = f"{self.source_partition or '?'}/{self.source_offset or '?'}"
        return (
            f"{self.action:<13} dlq {self.dlq_partition}/{self.dlq_offset}  {self.reason}  {at}"
            f"  -> {self.topic} (was {source})  replay #{self.replay_count}"
            f"  messageId={self.message_id or '-'}"
        )


class Verdict(enum.Enum):
    REPLAY = "replay"
    FILTERED = "filtered"
    OVER_LIMIT = "over_limit"
    WITHOUT_VALUE = "without_value"
    """The letter had to go without the event (too large for Kafka): nothing to replay."""


@dataclass
class Summary:
    """What a replay saw and did; printed at the end, as text or JSON."""

    dlq_topic: str
    dry_run: bool
    total: int = 0
    scanned: int = 0
    matched: int = 0
    selected: int = 0
    replayed: int = 0
    failed: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    missing_topics: Counter[str] = field(default_factory=Counter)
    without_value: int = 0
    interrupted: bool = False
    error: str | None = None

    @property
    def over_limit(self) -> int:
        return self.matched - self.selected - self.without_value

    @property
    def ok(self) -> bool:
        return not (self.failed or self.missing_topics or self.interrupted or self.error)

    def to_json(self) -> dict[str, Any]:
        return {
            "dlq_topic": self.dlq_topic,
            "dry_run": self.dry_run,
            "scanned": self.scanned,
            "matched": self.matched,
            "selected": self.selected,
            "over_limit": self.over_limit,
            "replayed": self.replayed,
            "failed": self.failed,
            "by_reason": dict(sorted(self.by_reason.items())),
            "missing_topics": dict(sorted(self.missing_topics.items())),
            "without_value": self.without_value,
            "interrupted": self.interrupted,
            "error": self.error,
        }

    def text(self) -> str:
        done = "would replay" if self.dry_run else "replayed"
        count = self.selected if self.dry_run else self.replayed
        lines = [
            f"{self.dlq_topic}: scanned {self.scanned} letters, {self.matched} matched,"
            f" {self.selected} selected, {done} {count}"
        ]
        if self.over_limit:
            lines.append(f"held back by --limit: {self.over_limit}")
        if self.by_reason:
            parts = " ".join(f"{r}={n}" for r, n in sorted(self.by_reason.items()))
            lines.append(f"selected by reason: {parts}")
        for topic, n in sorted(self.missing_topics.items()):
            lines.append(f"not replayed: source topic {topic!r} does not exist ({n} letters)")
        if self.without_value:
            lines.append(
                f"not replayed: {self.without_value} letters carry no event (too large for the"
                " dead-letter topic; fsd-source-* say where the original is)"
            )
        if self.failed:
            lines.append(f"failed to publish: {self.failed}")
        if self.error:
            lines.append(f"error: {self.error}")
        if self.interrupted:
            lines.append("interrupted: the summary covers what was read before the stop")
        return "\n".join(lines)


class Selection:
    """The filters applied letter by letter in reading order, ``--limit`` included."""

    def __init__(self, filters: Filters, summary: Summary) -> None:
        self._filters = filters
        self._summary = summary

    def offer(self, headers: RawHeaders, timestamp_ms: int | None) -> Verdict:
        summary = self._summary
        summary.scanned += 1
        if not matches(self._filters, headers, timestamp_ms):
            return Verdict.FILTERED
        summary.matched += 1
        if header(headers, "value-dropped") is not None:
            summary.without_value += 1
            return Verdict.WITHOUT_VALUE
        if self._filters.limit is not None and summary.selected >= self._filters.limit:
            return Verdict.OVER_LIMIT
        summary.selected += 1
        summary.by_reason[reason_of(headers)] += 1
        return Verdict.REPLAY
