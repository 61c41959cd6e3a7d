"""The broker launcher and the embedded broker, exercised through aiokafka for real."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest
from aiokafka import ConsumerRecord, TopicPartition

from sandbox import broker as launcher
from sandbox.broker import Broker, kafka_broker
from tests.kafka_support import KafkaTopic


def _accepts(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return True
    except OSError:
        return False


def test_an_existing_kafka_named_in_the_environment_is_used_as_is(monkeypatch) -> None:
    monkeypatch.setattr(launcher, "tansu_broker", pytest.fail)
    with kafka_broker({"KAFKA_BOOTSTRAP_SERVERS": " kafka-1:9092,kafka-2:9092 "}) as broker:
        assert broker == Broker("kafka-1:9092,kafka-2:9092", "external")


def test_without_docker_the_embedded_broker_is_started_and_stopped(monkeypatch) -> None:
    monkeypatch.setattr(launcher, "docker_available", lambda env=None: False)
    with kafka_broker({}) as broker:
        assert broker.kind == "tansu"
        assert broker.bootstrap_servers.startswith("127.0.0.1:")
        assert _accepts(broker.bootstrap_servers)
    assert not _accepts(broker.bootstrap_servers)


def test_the_docker_probe_asks_the_engine_socket_for_a_ping(tmp_path) -> None:
    path = str(tmp_path / "docker.sock")
    asked = []

    def engine(server: socket.socket) -> None:
        connection, _ = server.accept()
        with connection:
            asked.append(connection.recv(1024))
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(1)
        thread = threading.Thread(target=engine, args=(server,))
        thread.start()
        assert launcher.docker_available({"DOCKER_HOST": f"unix://{path}"})
        thread.join()
    assert asked[0].startswith(b"GET /_ping ")
    assert not launcher.docker_available({"DOCKER_HOST": f"unix://{tmp_path}/absent.sock"})


def test_tansu_gets_fast_group_timeouts_real_kafka_keeps_its_minimums() -> None:
    assert Broker("x:1", "tansu").group_timeouts()["session_timeout_ms"] < 6000
    assert Broker("x:1", "external").group_timeouts()["session_timeout_ms"] >= 6000


async def test_keyed_records_keep_key_value_headers_and_partition(kafka_topic: KafkaTopic) -> None:
    producer = kafka_topic.producer()
    await producer.start()
    try:
        sent = [
            await producer.send_and_wait(
                kafka_topic.name,
                value=f'{{"n":{n}}}'.encode(),
                key=f"user-{n % 4}".encode(),
                headers=[("trace", str(n).encode())],
            )
            for n in range(40)
        ]
    finally:
        await producer.stop()
    consumer = kafka_topic.consumer()
    consumer.subscribe([kafka_topic.name])
    await consumer.start()
    try:
        received: list[ConsumerRecord[bytes, bytes]] = []
        while len(received) < 40:
            batches = await consumer.getmany(timeout_ms=1000)
            received += [r for records in batches.values() for r in records]
    finally:
        await consumer.stop()
    partition_of: dict[bytes | None, int] = {}
    for record in received:
        n = int(record.headers[0][1])
        assert record.value == f'{{"n":{n}}}'.encode()
        assert record.key == f"user-{n % 4}".encode()
        assert partition_of.setdefault(record.key, record.partition) == record.partition
        assert (record.partition, record.offset) == (sent[n].partition, sent[n].offset)
    assert sorted(int(r.headers[0][1]) for r in received) == list(range(40))


async def test_a_committed_offset_is_where_the_group_resumes(kafka_topic: KafkaTopic) -> None:
    tp = TopicPartition(kafka_topic.name, 0)
    producer = kafka_topic.producer()
    await producer.start()
    try:
        for n in range(10):
            await producer.send_and_wait(kafka_topic.name, value=str(n).encode(), partition=0)
    finally:
        await producer.stop()

    first = kafka_topic.consumer()
    first.subscribe([kafka_topic.name])
    await first.start()
    try:
        seen: list[ConsumerRecord[bytes, bytes]] = []
        while len(seen) < 10:
            batches = await first.getmany(tp, timeout_ms=1000)
            seen += batches.get(tp, [])
        # Only the first six were "delivered": the commit must not go beyond them.
        await first.commit({tp: seen[5].offset + 1})
        assert await first.committed(tp) == 6
    finally:
        await first.stop()

    # A standalone member of the same group reads the committed position without a rebalance.
    second = kafka_topic.consumer()
    second.assign([tp])
    await second.start()
    try:
        batch = await asyncio.wait_for(second.getmany(tp, timeout_ms=3000), timeout=10)
        assert [r.value for r in batch[tp]][:4] == [b"6", b"7", b"8", b"9"]
    finally:
        await second.stop()
