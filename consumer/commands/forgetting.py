"""What ``forget`` works with: Freshsales (paced to the account's quota, as the service is),
the identity map read from Kafka, and the identity topic to write the suppressions to."""

from __future__ import annotations

from types import TracebackType

from aiokafka import AIOKafkaProducer

from consumer.engine.forgetting import ForgetReport, Forgetter
from consumer.engine.people import Identities
from consumer.errors import BrokerError
from consumer.freshsales.budget import Budget
from consumer.freshsales.client import ClientOptions, FreshsalesClient
from consumer.freshsales.paced import PacedCaller
from consumer.freshsales.quota import QuotaConfig
from consumer.identity.book import Book
from consumer.kafka.boundary import kafka_errors
from consumer.kafka.config import connection, producer_config
from consumer.kafka.identities import IdentityTopic
from consumer.settings import Settings
from translate import Names


class Session:
    def __init__(self, settings: Settings) -> None:
        s = self._settings = settings
        self._client = FreshsalesClient(
            s.api_base,
            s.freshsales_api_key.get_secret_value(),
            ClientOptions(pool_size=4, timeout_s=float(s.http_timeout_seconds)),
        )
        budget = Budget(
            QuotaConfig(
                per_minute=s.rate_limit_per_minute,
                per_hour=s.rate_limit_per_hour,
                share=s.quota_share,
            )
        )
        self._caller = PacedCaller(budget, self._client)
        self._producer: AIOKafkaProducer | None = None
        self._topic: IdentityTopic | None = None
        self._forgetter: Forgetter | None = None

    async def __aenter__(self) -> Session:
        s = self._settings
        await self._client.__aenter__()
        producer = self._producer = AIOKafkaProducer(**producer_config(s))
        try:
            with kafka_errors(f"connecting to {s.kafka_bootstrap_servers}"):
                await producer.start()
            book = Book()
            topic = self._topic = IdentityTopic(
                s.identity_topic,
                book,
                producer,
                connection(s),
                checkpoint_group=s.identity_checkpoint_group,
            )
            await topic.start()
        except BrokerError:
            await self.__aexit__(None, None, None)
            raise
        self._forgetter = Forgetter(self._caller, Identities(book, topic), s.freshsales_flavor)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._topic is not None:
            await self._topic.stop()
        if self._producer is not None:
            with kafka_errors("closing the producer"):
                await self._producer.stop()
        await self._client.__aexit__(kind, error, trace)

    async def forget(self, names: Names, *, dry_run: bool) -> ForgetReport:
        assert self._forgetter is not None
        return await self._forgetter.forget(names, dry_run=dry_run)

    async def undo(self, names: Names, *, dry_run: bool) -> dict[str, object]:
        assert self._forgetter is not None
        suppressed = await self._forgetter.undo(names, dry_run=dry_run)
        outcome = ("would_lift" if dry_run else "lifted") if suppressed else "not_suppressed"
        return {"identity": names.keys[0].hex()[:12], "outcome": outcome, "people": []}
