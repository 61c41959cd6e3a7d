"""Dead letters written straight to a DLQ topic, and whole topics read back, for replay tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer

from consumer.commands.dlq.replay import replay
from consumer.commands.dlq.selection import Filters, Listed, Summary
from consumer.settings import Settings
from sandbox.topics import create_topic, delete_topics, new_producer
from tests.kafka_support import KafkaTopic

Letter = tuple[int, bytes | None, bytes | None, list[tuple[str, bytes | None]]]


def replay_settings(topic: KafkaTopic, **extra: str) -> Settings:
    """The environment of ``run`` for this topic, without any Freshsales setting."""
    return Settings.from_env(
        {**topic.broker.service_env(topic.name, topic.group_id), **extra}, freshsales=False
    )


@asynccontextmanager
async def dlq_of(topic: KafkaTopic, partitions: int = 3) -> AsyncIterator[str]:
    """The topic's dead-letter topic (``<topic>.dlq``), created here and deleted afterwards."""
    name = f"{topic.name}.dlq"
    await create_topic(topic.bootstrap_servers, name, partitions)
    try:
        yield name
    finally:
        await delete_topics(topic.bootstrap_servers, [name])


async def write_letters(bootstrap_servers: str, dlq: str, letters: Sequence[Letter]) -> None:
    """``(partition, key, value, headers)`` letters, as the service would have written them."""
    producer = new_producer(bootstrap_servers)
    await producer.start()
    try:
        sent = [
            await producer.send(dlq, value=value, key=key, headers=headers, partition=partition)
            for partition, key, value, headers in letters
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def read_all(bootstrap_servers: str, topic: str) -> list[Any]:
    """Every record of ``topic`` up to its current end (from the fetch's high watermark)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(20):
            while True:
                for batch in (await consumer.getmany(timeout_ms=200)).values():
                    records += batch
                parts = consumer.assignment()
                ends = [consumer.highwater(tp) for tp in parts]
                if not parts or None in ends:
                    continue
                positions = [await consumer.position(tp) for tp in parts]
                if all(p >= e for p, e in zip(positions, ends, strict=True)):
                    return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()


async def run_replay(
    settings: Settings, filters: Filters | None = None, *, dry_run: bool = False
) -> tuple[Summary, list[Listed], list[int]]:
    """The replay in-process: its summary, its listing and the scanned counts of its progress."""
    listed: list[Listed] = []
    progress: list[int] = []
    summary = await replay(
        settings,
        filters or Filters(),
        dry_run=dry_run,
        emit=listed.append,
        progress=lambda s: progress.append(s.scanned),
        progress_every=2,
    )
    return summary, listed, progress
