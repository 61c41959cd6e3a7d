"""``dlq replay`` on a real broker: letters written as the service writes them, replayed
in-process."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from consumer.commands.dlq import replay as replay_module
from consumer.commands.dlq.replay import replay
from consumer.commands.dlq.selection import Filters
from consumer.kafka.config import producer_config
from tests.kafka_support import KafkaTopic
from tests.replay_support import dlq_of, read_all, replay_settings, run_replay, write_letters

ORIGINAL = [("trace", b"\x00\xfft-1"), ("empty", None), ("trace", b"twice")]
AT = b"2026-11-29T12:00:00+00:00"


def ours(
    reason: str, topic: str | None, at: bytes = AT, **extra: bytes
) -> list[tuple[str, bytes | None]]:
    headers: list[tuple[str, bytes | None]] = [
        ("fsd-reason", reason.encode()),
        ("fsd-error-class", b"RejectedError"),
        ("fsd-source-partition", b"1"),
        ("fsd-source-offset", b"42"),
        ("fsd-dead-lettered-at", at),
    ]
    if topic is not None:
        headers.append(("fsd-source-topic", topic.encode()))
    return headers + [(f"fsd-{k.replace('_', '-')}", v) for k, v in extra.items()]


def event(message_id: str) -> bytes:
    return orjson.dumps({"type": "identify", "userId": message_id, "messageId": message_id})


async def test_selected_letters_go_back_byte_for_byte_with_a_replay_count(
    kafka_topic: KafkaTopic,
) -> None:
    source = kafka_topic.name
    letters = [
        (0, b"u1", event("m1"), [*ORIGINAL, *ours("rejected", source)]),
        (1, b"u2", event("m2"), ours("missing_email", source)),
        (0, None, b"\xff\xfe not json", ours("rejected", source, replay_count=b"1")),
        (1, b"u4", event("m4"), [*ours("rejected", None), ("after", b"ours")]),
    ]
    async with dlq_of(kafka_topic) as dlq:  # three partitions, the third stays empty
        await write_letters(kafka_topic.bootstrap_servers, dlq, letters)
        settings = replay_settings(kafka_topic)
        summary, listed, progress = await run_replay(
            settings, Filters(reasons=frozenset({"rejected"}))
        )
        assert summary.ok, summary.text()
        assert (summary.total, summary.scanned, summary.selected, summary.replayed) == (4, 4, 3, 3)
        assert summary.by_reason == {"rejected": 3}
        assert progress == [2, 4]
        assert {entry.action for entry in listed} == {"replayed"}
        assert sorted(e.message_id or "-" for e in listed) == ["-", "m1", "m4"]
        records = await read_all(kafka_topic.bootstrap_servers, source)
        assert len(await read_all(kafka_topic.bootstrap_servers, dlq)) == 4  # left as it was
    sent = {(r.key, r.value): r.headers for r in records}
    assert sent == {
        (b"u1", event("m1")): (*ORIGINAL, ("fsd-replay-count", b"1")),
        (None, b"\xff\xfe not json"): (("fsd-replay-count", b"2"),),
        (b"u4", event("m4")): (("after", b"ours"), ("fsd-replay-count", b"1")),
    }


async def test_a_dry_run_lists_the_selection_and_publishes_nothing(kafka_topic: KafkaTopic) -> None:
    letters = [
        (p, f"u{n}".encode(), event(f"m{n}"), ours("rejected", kafka_topic.name))
        for n, p in enumerate([0, 1, 2, 0, 1])
    ]
    async with dlq_of(kafka_topic) as dlq:
        await write_letters(kafka_topic.bootstrap_servers, dlq, letters)
        summary, listed, _ = await run_replay(
            replay_settings(kafka_topic), Filters(limit=3), dry_run=True
        )
    assert summary.ok
    assert (summary.scanned, summary.matched, summary.selected, summary.replayed) == (5, 5, 3, 0)
    assert [e.action for e in listed] == ["would_replay"] * 3
    assert listed[0].replay_count == 1
    assert listed[0].reason == "rejected"
    assert listed[0].topic == kafka_topic.name
    assert (listed[0].source_partition, listed[0].source_offset) == ("1", "42")
    assert await read_all(kafka_topic.bootstrap_servers, kafka_topic.name) == []


async def test_the_time_window_selects_by_dead_letter_time(kafka_topic: KafkaTopic) -> None:
    from consumer.commands.dlq.selection import parse_moment

    times = [
        b"2026-11-28T23:59:59+00:00",
        b"2026-11-29T00:00:00+00:00",
        b"2026-11-30T00:00:00+00:00",
    ]
    letters = [
        (0, b"k", event(f"m{n}"), ours("rejected", kafka_topic.name, at=t))
        for n, t in enumerate(times)
    ]
    async with dlq_of(kafka_topic, partitions=1) as dlq:
        await write_letters(kafka_topic.bootstrap_servers, dlq, letters)
        window = Filters(since=parse_moment("2026-11-29"), until=parse_moment("2026-11-30"))
        summary, listed, _ = await run_replay(replay_settings(kafka_topic), window, dry_run=True)
    assert [e.message_id for e in listed] == ["m1"]
    assert summary.scanned == 3


async def test_a_missing_source_topic_is_reported_and_not_created(kafka_topic: KafkaTopic) -> None:
    gone = f"{kafka_topic.name}-gone"
    letters = [
        (0, b"a", event("m1"), ours("rejected", gone)),
        (0, b"b", event("m2"), ours("rejected", kafka_topic.name)),
        (0, b"c", event("m3"), ours("rejected", gone)),
    ]
    async with dlq_of(kafka_topic, partitions=1) as dlq:
        await write_letters(kafka_topic.bootstrap_servers, dlq, letters)
        summary, listed, _ = await run_replay(replay_settings(kafka_topic))
    assert not summary.ok
    assert summary.missing_topics == {gone: 2}
    assert summary.replayed == 1
    # A replayed letter is listed once acked, so after the missing ones read around it.
    assert sorted(e.action for e in listed) == ["missing_topic", "missing_topic", "replayed"]
    assert "source topic" in summary.text()
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_topic.bootstrap_servers)
    await consumer.start()
    try:
        assert gone not in await consumer.topics()
    finally:
        await consumer.stop()


async def test_an_empty_dead_letter_topic_replays_nothing(kafka_topic: KafkaTopic) -> None:
    async with dlq_of(kafka_topic):
        summary, listed, _ = await run_replay(replay_settings(kafka_topic))
    assert summary.ok
    assert (summary.total, summary.scanned, listed) == (0, 0, [])


async def test_a_large_topic_is_read_to_its_end_and_replayed_in_acknowledged_windows(
    kafka_topic: KafkaTopic,
) -> None:
    pad = b" " * 3000  # about 1.2 MB per partition: more than one fetch (1 MB) each
    letters = [
        (n % 3, f"u{n}".encode(), event(f"m{n}") + pad, ours("rejected", kafka_topic.name))
        for n in range(1234)
    ]
    async with dlq_of(kafka_topic) as dlq:
        await write_letters(kafka_topic.bootstrap_servers, dlq, letters)
        summary, listed, _ = await run_replay(replay_settings(kafka_topic))
    assert summary.ok
    assert (summary.total, summary.scanned, summary.replayed) == (1234, 1234, 1234)
    assert len({e.message_id for e in listed}) == 1234
    records = await read_all(kafka_topic.bootstrap_servers, kafka_topic.name)
    assert sorted(r.value for r in records) == sorted(value for _, _, value, _ in letters)


async def test_letters_written_while_it_runs_are_left_for_the_next_run(
    kafka_topic: KafkaTopic,
) -> None:
    async with dlq_of(kafka_topic, partitions=1) as dlq:
        # Letters whose source is the DLQ itself: every replayed one lands behind the start's end,
        # as events that fail again during a replay do. Reading on would never finish.
        pad = b" " * 3000
        letters = [(0, b"k", event(f"m{n}") + pad, ours("rejected", dlq)) for n in range(900)]
        await write_letters(kafka_topic.bootstrap_servers, dlq, letters)
        summary, _, _ = await run_replay(replay_settings(kafka_topic))
        assert (summary.total, summary.scanned, summary.replayed) == (900, 900, 900)
        assert len(await read_all(kafka_topic.bootstrap_servers, dlq)) == 1800


async def test_a_refused_send_stops_the_replay_and_is_reported(
    kafka_topic: KafkaTopic, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Records over the producer's request limit are refused before they leave the process, on
    # any broker.
    limited = {**producer_config(replay_settings(kafka_topic)), "max_request_size": 400}
    monkeypatch.setattr(replay_module, "producer_config", lambda _: limited)
    letters = [
        (0, b"a", event("m1"), ours("rejected", kafka_topic.name)),
        (0, b"b", event("m2") + b" " * 1000, ours("rejected", kafka_topic.name)),
        (0, b"c", event("m3"), ours("rejected", kafka_topic.name)),
    ]
    async with dlq_of(kafka_topic, partitions=1) as dlq:
        await write_letters(kafka_topic.bootstrap_servers, dlq, letters)
        summary, listed, _ = await run_replay(replay_settings(kafka_topic))
    assert not summary.ok
    assert (summary.selected, summary.replayed, summary.failed) == (2, 1, 1)
    assert sorted((e.message_id, e.action) for e in listed) == [
        ("m1", "replayed"),
        ("m2", "failed"),
    ]
    assert summary.error is not None
    assert "MessageSizeTooLarge" in summary.error


async def test_a_stop_request_ends_the_replay_as_interrupted(kafka_topic: KafkaTopic) -> None:
    letters = [(0, b"a", event("m1"), ours("rejected", kafka_topic.name))]
    stop = asyncio.Event()
    stop.set()
    async with dlq_of(kafka_topic, partitions=1) as dlq:
        await write_letters(kafka_topic.bootstrap_servers, dlq, letters)
        summary = await replay(
            replay_settings(kafka_topic), Filters(), dry_run=False, emit=print, stop=stop
        )
    assert summary.interrupted
    assert not summary.ok
    assert summary.replayed == 0
    assert await read_all(kafka_topic.bootstrap_servers, kafka_topic.name) == []
