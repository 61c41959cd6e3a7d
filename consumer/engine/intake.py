"""A fetched record → the unit of work the dispatcher carries: key and translation.

Translation happens here, at fetch time: it is pure and cheap, and the ordering key comes from
the same decoded event. An undecodable record gets a key of its own, so it never waits behind
(or holds up) anybody's events.
"""

from __future__ import annotations

from datetime import UTC, datetime

from consumer.engine.offsets import PartitionOffsets
from consumer.engine.source import Record
from consumer.engine.work import Work
from translate import Options, TranslationError, decode, ordering_key, translate_event
from translate.digest import line_of


def work_from(
    record: Record, tracker: PartitionOffsets, options: Options, *, line_chars: int | None = None
) -> Work:
    """``line_chars``: digests are on, and an activity whose digest line fits this many
    characters may join one."""
    stamp = record.timestamp_ms
    fallback = (
        datetime.fromtimestamp(stamp / 1000, UTC) if stamp and stamp > 0 else datetime.now(UTC)
    )
    unique = f"{record.topic}/{record.partition}/{record.offset}"
    try:
        event = decode(record.value or b"")
    except TranslationError as error:
        return Work(record, tracker, unique, None, error)
    key = ordering_key(event) or unique
    try:
        translation = translate_event(event, options, fallback_time=fallback)
    except TranslationError as error:
        return Work(record, tracker, key, None, error)
    # Only identifies merge as events (consumer.engine.folding); others need not keep theirs.
    kept = event if translation.type == "identify" else None
    line = line_of(translation, line_chars) if line_chars is not None else None
    return Work(record, tracker, key, translation, None, event=kept, received=fallback, line=line)
