"""Helpers for the guarantee tests: dead letters read back, the service as a logging process."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import IO, Any

import orjson
from aiokafka import AIOKafkaConsumer

from sandbox.process import service_env as sandbox_env
from sandbox.process import start_service
from sandbox.simulator import RunningSimulator
from tests.kafka_support import KafkaTopic
from tests.service_support import API_KEY


@dataclass(frozen=True)
class Letter:
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes | None]

    def header(self, name: str) -> str:
        value = self.headers.get(name)
        return "" if value is None else value.decode("utf-8", "replace")


class LetterReader:
    """Reads a dead-letter topic from its beginning, a few letters at a time, across calls."""

    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        self._consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap_servers,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )

    async def __aenter__(self) -> LetterReader:
        await self._consumer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._consumer.stop()

    async def take(self, count: int, timeout_s: float = 20.0) -> list[Letter]:
        """The next ``count`` letters; fewer only if they do not come within the timeout."""
        letters: list[Letter] = []
        try:
            async with asyncio.timeout(timeout_s):
                while len(letters) < count:
                    batches = await self._consumer.getmany(
                        timeout_ms=200, max_records=count - len(letters)
                    )
                    for records in batches.values():
                        letters += [Letter(r.key, r.value, dict(r.headers)) for r in records]
        except TimeoutError:
            pass
        return letters


async def dead_letters(topic: KafkaTopic, count: int) -> list[Letter]:
    async with LetterReader(topic.bootstrap_servers, f"{topic.name}.dlq") as reader:
        return await reader.take(count)


def service_env(topic: KafkaTopic, served: RunningSimulator, **extra: str) -> dict[str, str]:
    """The environment of ``freshsales-destination run`` against the test broker and simulator."""
    unpaced = {
        "FRESHSALES_RATE_LIMIT_PER_MINUTE": "1000000",
        "FRESHSALES_RATE_LIMIT_PER_HOUR": "1000000",
    }
    return sandbox_env(
        topic.broker, topic.name, topic.group_id, served.base_url(), API_KEY, **(unpaced | extra)
    )


@dataclass
class Process:
    """``python -m consumer run`` with its standard output and error kept in files."""

    process: asyncio.subprocess.Process
    stdout: IO[bytes]
    stderr: IO[bytes]

    def output(self) -> str:
        text = ""
        for stream in (self.stdout, self.stderr):
            stream.seek(0)
            text += stream.read().decode("utf-8", "replace")
        return text

    def log_lines(self) -> list[dict[str, Any]]:
        self.stdout.seek(0)
        return [orjson.loads(line) for line in self.stdout if line.startswith(b"{")]


@asynccontextmanager
async def service_process(env: dict[str, str]) -> AsyncIterator[Process]:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = await start_service(env, out, err)
        try:
            yield Process(started, out, err)
        finally:
            if started.returncode is None:
                started.kill()
                await started.wait()
