"""A fetched Kafka record → the unit of work the dispatcher carries: key and translation.

Translation happens here, at fetch time: it is pure and cheap, and the ordering key comes from
the same decoded event. An undecodable record gets a key of its own, so it never waits behind
(or holds up) anybody's events.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiokafka import ConsumerRecord

from consumer.engine.offsets import PartitionOffsets
from consumer.engine.work import Work
from consumer.kafka.deadletters import Source
from translate import Options, TranslationError, decode, ordering_key, translate_event


def work_from(
    record: ConsumerRecord[bytes, bytes], tracker: PartitionOffsets, options: Options
) -> Work:
    source = Source(
        record.topic,
        record.partition,
        record.offset,
        record.key,
        record.value,
        tuple(record.headers),
    )
    fallback = (
        datetime.fromtimestamp(record.timestamp / 1000, UTC)
        if record.timestamp and record.timestamp > 0
        else datetime.now(UTC)
    )
    unique = f"{record.topic}/{record.partition}/{record.offset}"
    try:
        event = decode(record.value or b"")
    except TranslationError as error:
        return Work(source, tracker, unique, None, error)
    key = ordering_key(event) or unique
    try:
        translation = translate_event(event, options, fallback_time=fallback)
    except TranslationError as error:
        return Work(source, tracker, key, None, error)
    # Only identifies are merged later (consumer.engine.folding); other events need not keep theirs.
    kept = event if translation.type == "identify" else None
    return Work(source, tracker, key, translation, None, event=kept, received=fallback)
