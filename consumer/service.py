"""``freshsales-destination run``, assembled: the one place that builds every part from the
settings and connects them, in the order of the flow.

    Kafka ─► kafka.KafkaSource ─► engine.Engine (intake, dispatch, folding, delivery, offsets)
                                        │   who: identity.Book (kafka.IdentityTopic keeps it)
                                        │   waiting: engine.WaitingRoom (kafka.WaitingTopic)
                                        ▼
               freshsales.PacedCaller (the quota) ─► freshsales.FreshsalesClient (HTTP)

Dead letters and delivered activities go back to Kafka (``kafka.DeadLetters``, ``kafka.Ledger``);
``ops`` serves metrics and probes and writes the quota line, reading the parts kept here.
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from consumer.engine.breaker import Breaker
from consumer.engine.delivery import Deliverer
from consumer.engine.folding import Folding, FoldRules
from consumer.engine.loop import Engine, EngineConfig
from consumer.engine.memory.seen import SeenMessages
from consumer.engine.memory.unchanged import UpsertMemory
from consumer.engine.outlets import Memory
from consumer.engine.people import Identities
from consumer.engine.policy import RetryPolicy
from consumer.engine.source import Partition
from consumer.engine.stats import Stats
from consumer.engine.waitroom import WaitingRoom, WaitRules
from consumer.freshsales.account import Wanted
from consumer.freshsales.budget import Budget
from consumer.freshsales.client import ClientOptions, FreshsalesClient
from consumer.freshsales.paced import PacedCaller
from consumer.freshsales.quota import QuotaConfig
from consumer.freshsales.standing import AccountStanding
from consumer.identity.book import Book
from consumer.kafka.config import connection, consumer_config, producer_config
from consumer.kafka.deadletters import DeadLetters
from consumer.kafka.identities import IdentityTopic
from consumer.kafka.ledger import Ledger
from consumer.kafka.source import KafkaSource
from consumer.kafka.start import started, until_read
from consumer.kafka.topics import dead_letter_topic
from consumer.kafka.waiting import WaitingTopic
from consumer.logs import get_logger
from consumer.ops.quota_line import QuotaLine
from consumer.ops.server import OpsServer
from consumer.settings import Settings
from translate import Options

log = get_logger(__name__)
RECHECK_INTERVAL_S = 30.0
REFRESH_INTERVAL_S = 900.0


class Service:
    def __init__(
        self,
        settings: Settings,
        *,
        recheck_interval_s: float = RECHECK_INTERVAL_S,
        refresh_interval_s: float = REFRESH_INTERVAL_S,
    ) -> None:
        s = self.settings = settings
        self.budget = Budget(
            QuotaConfig(
                per_minute=s.rate_limit_per_minute,
                per_hour=s.rate_limit_per_hour,
                share=s.quota_share,
            )
        )
        self.client = FreshsalesClient(
            s.api_base,
            s.freshsales_api_key.get_secret_value(),
            ClientOptions(pool_size=s.max_in_flight, timeout_s=float(s.http_timeout_seconds)),
        )
        self.caller = PacedCaller(self.budget, self.client)
        self.standing = AccountStanding(
            self.caller,
            wanted(s),
            options(s),
            recheck_interval_s=recheck_interval_s,
            refresh_interval_s=refresh_interval_s,
        )
        self.breaker = Breaker()
        self.book = Book()
        """Who people are: every person the deployment has delivered (``KAFKA_IDENTITY_TOPIC``)."""
        self.identity_topic: IdentityTopic | None = None
        self.engine: Engine | None = None
        self._deliverer: Deliverer | None = None
        self.stopping = False
        self.kafka_unreachable: str | None = None
        """Why Kafka could not be reached at start-up, while that lasts (what /readyz says)."""
        self.ops_port: int | None = None
        """The port /metrics, /healthz and /readyz answer on, once started."""

    @property
    def stats(self) -> Stats:
        return self._deliverer.stats if self._deliverer else Stats()

    async def run(self, stop: asyncio.Event) -> int:
        """Serve until ``stop`` is set; the exit status (0 clean, 1 crashed). Raises
        ConfigurationError (before consuming anything) for a setting that cannot work."""
        # The ops server starts first, so that a slow start reads as "not ready", not "dead".
        ops = OpsServer(self, self.settings.http_port)
        self.ops_port = await ops.start()
        try:
            async with self.client:
                return await self._run(stop)
        finally:
            self.stopping = True
            await ops.stop()

    async def _run(self, stop: asyncio.Event) -> int:
        s = self.settings
        if not await self.standing.read(stop):
            return _stopped_before_consuming("the Freshsales account")
        producer = await started(
            lambda: AIOKafkaProducer(**producer_config(s)),
            stop,
            "producer",
            unreachable=self._kafka_unreachable,
        )
        if producer is None:
            return _stopped_before_consuming("Kafka")
        seen = SeenMessages(float(s.dedupe_window_seconds))
        ledger = Ledger(s.ledger_topic, seen, producer, connection(s))
        source = KafkaSource(consumer_config(s), s.kafka_topic, s.waiting_topic)
        identities = self.identity_topic = IdentityTopic(
            s.identity_topic,
            self.book,
            producer,
            connection(s),
            checkpoint_group=s.identity_checkpoint_group,
            # One replica writes the snapshots: the one holding the first partition.
            leads=lambda: Partition(s.kafka_topic, 0) in source.assignment(),
        )
        waiting = WaitingTopic(s.waiting_topic, producer, connection(s))
        try:
            await dead_letter_topic(lambda: AIOKafkaAdminClient(**connection(s)), s.dlq_topic)
            if seen.enabled:
                await ledger.start()
            # Who people are is known before the first event is: else an event of a person
            # identified before this start would wait for nothing.
            unreachable = self._kafka_unreachable
            if not await until_read(identities.start, stop, "identity topic", unreachable):
                return _stopped_before_consuming("the identity topic")
            if not await until_read(
                lambda: waiting.ensure(like=s.kafka_topic, wait_s=float(s.identity_wait_seconds)),
                stop,
                "waiting topic",
                unreachable,
            ):
                return _stopped_before_consuming("the waiting topic")
            return await self._consume(producer, ledger, source, identities, waiting, stop)
        finally:
            await identities.stop()
            await ledger.stop()
            await producer.stop()

    def _kafka_unreachable(self, error: str | None) -> None:
        servers = self.settings.kafka_bootstrap_servers
        self.kafka_unreachable = None if error is None else f"{servers}: {error}"

    async def _consume(
        self,
        producer: AIOKafkaProducer,
        ledger: Ledger,
        source: KafkaSource,
        identities: IdentityTopic,
        waiting: WaitingTopic,
        stop: asyncio.Event,
    ) -> int:
        s = self.settings
        standing = self.standing
        progress = asyncio.Event()
        room = WaitingRoom(
            s.waiting_topic,
            self.book,
            WaitRules(
                wait_s=float(s.identity_wait_seconds),
                max_events=s.identity_wait_max_events,
                max_total=s.identity_wait_max_total,
            ),
        )
        deliverer = self._deliverer = Deliverer(
            self.caller,
            standing,
            Memory(upserts=UpsertMemory(float(s.unchanged_window_seconds)), seen=ledger.seen),
            DeadLetters(producer.send_and_wait, s.dlq_topic),
            ledger.record,
            identities=Identities(self.book, identities),
            waiting=waiting,
            policy=RetryPolicy(window_s=float(s.retry_max_seconds)),
            breaker=self.breaker,
            progress=progress,
            options=lambda: standing.options,
            reread=source.reread,
            put_back=room.put_back,
            digest_limits=(s.digest_max_events, s.digest_max_chars),
            flavor=s.freshsales_flavor,
        )
        engine = self.engine = Engine(
            source,
            deliverer,
            options=lambda: standing.options,
            delivering=standing.delivering,
            breaker=self.breaker,
            progress=progress,
            config=EngineConfig(
                max_buffered=s.max_buffered,
                max_folded=s.max_folded,
                shutdown_grace_s=float(s.shutdown_grace_seconds),
            ),
            folding=folding(s, self.budget),
            # The group's division of the topic is the replicas' division of the quota.
            on_assignment=self.budget.assigned,
            room=room,
        )
        quota_line = QuotaLine(self, interval_s=float(s.quota_log_seconds))
        background = [
            asyncio.create_task(standing.refresh()),
            asyncio.create_task(quota_line.run()),
        ]
        try:
            return await engine.run(stop)
        finally:
            for task in background:
                task.cancel()
            log.info("stopped", **dict(self.stats.outcomes))
            quota_line.log()


def _stopped_before_consuming(waiting_for: str) -> int:
    """A stop while start-up still waited (for Kafka, for the account): nothing was fetched, so
    nothing is in flight, but the stop is logged as any other."""
    log.info("stopping", in_flight=0, waiting_for=waiting_for)
    log.info("stopped")
    return 0


def folding(s: Settings, budget: Budget) -> Folding | None:
    """How waiting events fold together; None when neither identifies nor activities do.
    Activities fold only while calls wait for the quota (``budget.pressed``)."""
    window = s.digest_window_s
    if window is None and not s.coalesce_identifies:
        return None
    return Folding(
        FoldRules(
            identifies=s.coalesce_identifies,
            activities=window is not None,
            window_s=window or 0.0,
            max_events=s.digest_max_events,
            max_chars=s.digest_max_chars,
        ),
        pressed=budget.pressed,
    )


def wanted(s: Settings) -> Wanted:
    """The account settings the configuration names, resolved to ids at start-up."""
    events = s.event_filter
    screen = (s.screen_activity_type,) if s.screen_activity_type else ()
    return Wanted(
        flavor=s.freshsales_flavor,
        activity_types=(s.track_activity_type, s.page_activity_type, *screen),
        stages=(s.lead_stage, *s.stage_map.values()),
        default_owner_id=s.default_owner_id,
        # Accounts with an industry come from groups and identify's company.
        industry_types=events.may_admit("group") or events.may_admit("identify"),
    )


def options(s: Settings) -> Options:
    """Translation options as configured (the account's field catalog joins them once read)."""
    return Options(
        flavor=s.freshsales_flavor,
        track_activity_type=s.track_activity_type,
        page_activity_type=s.page_activity_type,
        lead_stage=s.lead_stage,
        stage_map=dict(s.stage_map),
        screen_activity_type=s.screen_activity_type or None,
        group_id_field=s.group_id_field or None,
        events=s.event_filter,
    )
