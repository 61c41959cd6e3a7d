"""The one place aiokafka's exceptions become the project's own (``consumer.errors``).

Every Kafka call of the service and its commands runs inside ``kafka_errors``: past it, nothing
raises a ``KafkaError``, so callers decide on ``retriable`` alone, as they do for Freshsales.
aiokafka's own ``retriable`` flag is kept, with one exception: a timeout is always worth another
try (aiokafka marks some of its timeouts as final, e.g. a broker not up yet at start-up).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from aiokafka.errors import KafkaError, KafkaTimeoutError, MessageSizeTooLargeError

from consumer.errors import BrokerError, BrokerRefused, OversizedRecord


@contextlib.contextmanager
def kafka_errors(what: str) -> Iterator[None]:
    """Convert any KafkaError raised inside into a BrokerError that names ``what`` was done."""
    try:
        yield
    except MessageSizeTooLargeError as exc:
        raise OversizedRecord(f"{what}: {exc}") from exc
    except KafkaError as exc:
        if exc.retriable or isinstance(exc, KafkaTimeoutError):
            raise BrokerError(f"{what}: {exc}") from exc
        raise BrokerRefused(f"{what}: {exc}") from exc
