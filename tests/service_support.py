"""Running the real service in-process against the test broker and the simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import orjson

from consumer.service import Service
from consumer.settings import Settings
from sandbox.simulator import RunningSimulator, Simulator
from sandbox.topics import produce as produce_records
from tests.kafka_support import KafkaTopic

API_KEY = "sim-api-key"
LIMIT_S = 30.0


def settings_for(
    topic: KafkaTopic, served: RunningSimulator, flavor: str = "suite", **extra: str
) -> Settings:
    env = {
        **topic.broker.service_env(topic.name, topic.group_id),
        "FRESHSALES_BASE_URL": served.base_url(flavor),
        "FRESHSALES_FLAVOR": flavor,
        "FRESHSALES_API_KEY": API_KEY,
        "SHUTDOWN_GRACE_SECONDS": "5",
        "HTTP_PORT": "0",  # a free port each: tests run services side by side
        # Engine tests run unpaced; quota tests set the real limits themselves.
        "FRESHSALES_RATE_LIMIT_PER_MINUTE": "1000000",
        "FRESHSALES_RATE_LIMIT_PER_HOUR": "1000000",
        **extra,
    }
    return Settings.from_env(env)


@dataclass
class Running:
    service: Service
    stop: asyncio.Event
    task: asyncio.Task[int]

    async def until_finished(self, count: int, limit_s: float = LIMIT_S) -> None:
        """Wait until ``count`` events are finished (delivered, dead-lettered or skipped)."""
        async with asyncio.timeout(limit_s):
            while self.service.stats.finished < count:
                self._alive()
                await asyncio.sleep(0.05)

    async def until_assigned(self) -> None:
        """Wait until the account is read and partitions are assigned."""
        async with asyncio.timeout(LIMIT_S):
            while not (self.service.engine and self.service.engine.assigned):
                self._alive()
                await asyncio.sleep(0.05)

    def _alive(self) -> None:
        if self.task.done():
            raise AssertionError(f"service exited early: {self.task.result()}")


@asynccontextmanager
async def service_running(settings: Settings) -> AsyncIterator[Running]:
    service = Service(settings, recheck_interval_s=0.5)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    running = Running(service, stop, task)
    try:
        yield running
    finally:
        stop.set()
        status = await asyncio.wait_for(task, 30)
        assert status == 0


async def produce(
    topic: KafkaTopic, values: Iterable[bytes], key: bytes | None = None
) -> list[tuple[int, int]]:
    return await produce_keyed(topic, [(key, value) for value in values])


async def produce_keyed(
    topic: KafkaTopic, records: Iterable[tuple[bytes | None, bytes]]
) -> list[tuple[int, int]]:
    metas = await produce_records(topic.bootstrap_servers, topic.name, records)
    return [(m.partition, m.offset) for m in metas]


async def committed(topic: KafkaTopic) -> Mapping[int, int | None]:
    from aiokafka import TopicPartition

    consumer = topic.consumer()
    await consumer.start()
    try:
        parts = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        return {tp.partition: await consumer.committed(tp) for tp in parts}
    finally:
        await consumer.stop()


def versioned_identifies(users: int, versions: int) -> list[tuple[bytes | None, bytes]]:
    """Each user identified ``versions`` times (firstName v000, v001, …), keyed by userId."""
    return [
        (
            f"user-{u}".encode(),
            orjson.dumps(
                {
                    "type": "identify",
                    "userId": f"user-{u}",
                    "messageId": f"m-{u}-{v}",
                    "traits": {"email": f"user{u}@example.com", "firstName": f"v{v:03d}"},
                }
            ),
        )
        for v in range(versions)
        for u in range(users)
    ]


def upserted_names(simulator: Simulator) -> dict[str, list[str]]:
    """Per email, the first names of the contact upserts the simulator accepted, in order."""
    sent: dict[str, list[str]] = {}
    for request in simulator.requests:
        if request.path.endswith("/contacts/upsert") and request.status == 200:
            contact = request.body["contact"]
            sent.setdefault(contact["emails"], []).append(contact["first_name"])
    return sent


async def until_committed(topic: KafkaTopic, total: int) -> None:
    """Wait until the group has committed ``total`` offsets over all partitions."""
    async with asyncio.timeout(90):
        while sum(p or 0 for p in (await committed(topic)).values()) < total:
            await asyncio.sleep(0.2)
