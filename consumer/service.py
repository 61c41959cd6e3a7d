"""``freshsales-destination run``: consume, dispatch per key, deliver, commit only what finished.

The loop fetches batches, translates each record (pure, cheap) and hands it to the per-key
dispatcher; deliveries finish offsets in any order and the offsets tracker says what is safe to
commit. Fetching pauses while too much is buffered, while the circuit breaker is open and while
the key is refused. SIGTERM: stop fetching, finish in-flight work within the grace period, commit,
close, exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from consumer.account import Account, Wanted, read_account
from consumer.breaker import Breaker
from consumer.budget import Budget
from consumer.coalesce import Coalescer
from consumer.dedupe import SeenMessages
from consumer.delivery import Deliverer, Stats, Work, letter_sender
from consumer.dispatch import KeyedDispatcher
from consumer.freshsales import ClientOptions, FreshsalesClient
from consumer.identities import IdentityCache
from consumer.intake import work_from
from consumer.kafka_config import connection, consumer_config, producer_config
from consumer.ledger import Ledger
from consumer.logs import get_logger
from consumer.offsets import Offsets
from consumer.policy import RetryPolicy
from consumer.quota import QuotaConfig
from consumer.rebalance import Rebalance
from consumer.report import Reporter
from consumer.settings import Settings
from consumer.unchanged import UpsertMemory
from translate import (
    ConfigurationError,
    DestinationError,
    Lookups,
    Options,
)

log = get_logger("consumer.service")
# Commits follow progress closely (what is committed is never sent again after a crash) but are
# spaced a little, so a burst of finishes becomes one commit.
COMMIT_SPACING_S = 0.01
RECHECK_INTERVAL_S = 30.0
REFRESH_INTERVAL_S = 900.0
FETCH_MAX_RECORDS = 500


@dataclass
class Health:
    """What /readyz reports and the demo watches."""

    assigned: bool = False
    auth_ok: bool = False
    fatal: str | None = None


class Service:
    def __init__(
        self,
        settings: Settings,
        *,
        recheck_interval_s: float = RECHECK_INTERVAL_S,
        refresh_interval_s: float = REFRESH_INTERVAL_S,
    ) -> None:
        self.settings = settings
        self.health = Health()
        self.offsets: Offsets[TopicPartition] = Offsets()
        self._recheck_interval_s = recheck_interval_s
        self._refresh_interval_s = refresh_interval_s
        self._lookups: Lookups = {}
        self._options = Options()
        self._ready = asyncio.Event()
        self._progress = asyncio.Event()
        self._deliverer: Deliverer | None = None
        self._paused = False
        self._background: set[asyncio.Task[None]] = set()
        self.budget = Budget(
            QuotaConfig(
                per_minute=settings.rate_limit_per_minute,
                per_hour=settings.rate_limit_per_hour,
                share=settings.quota_share,
            )
        )
        self.consumer: AIOKafkaConsumer | None = None
        self.dispatcher: KeyedDispatcher[Work] | None = None

    @property
    def stats(self) -> Stats:
        return self._deliverer.stats if self._deliverer else Stats()

    def backlog(self) -> int | None:
        """Events of the assigned partitions not finished yet (fetched or not); None before the
        first fetch says where the partitions end. Uses ``highwater``, which is right on every
        broker (``end_offsets`` is not, on the embedded one)."""
        consumer = self.consumer
        if consumer is None:
            return None
        total: int | None = None
        for tp in consumer.assignment():
            end = consumer.highwater(tp)
            if end is None or tp not in self.offsets:
                continue
            total = (total or 0) + max(0, end - self.offsets[tp].position)
        return total

    async def run(self, stop: asyncio.Event) -> int:
        """Serve until ``stop`` is set; the exit status (0 clean, 1 crashed)."""
        s = self.settings
        client = FreshsalesClient(
            s.api_base,
            s.freshsales_api_key.reveal(),
            ClientOptions(pool_size=s.max_in_flight, timeout_s=float(s.http_timeout_seconds)),
            meter=self.budget,
        )
        async with client:
            account = await self._read_account(client, stop)
            if account is None:
                return 0
            self._use(account)
            producer = AIOKafkaProducer(**producer_config(s))
            consumer = self.consumer = AIOKafkaConsumer(**consumer_config(s))
            await producer.start()
            seen = SeenMessages(float(s.dedupe_window_seconds))
            ledger = Ledger(s.ledger_topic, seen, producer, connection(s))
            try:
                if seen.enabled:
                    await ledger.start()
                return await self._consume(client, producer, consumer, ledger, stop)
            finally:
                await ledger.stop()
                await producer.stop()

    async def _consume(
        self,
        client: FreshsalesClient,
        producer: AIOKafkaProducer,
        consumer: AIOKafkaConsumer,
        ledger: Ledger,
        stop: asyncio.Event,
    ) -> int:
        s = self.settings
        self._ready.set()
        deliverer = self._deliverer = Deliverer(
            client,
            letter_sender(producer.send_and_wait),
            dlq_topic=s.dlq_topic,
            lookups=lambda: self._lookups,
            people=IdentityCache(),
            policy=RetryPolicy(window_s=float(s.retry_max_seconds)),
            breaker=(breaker := Breaker()),
            on_fatal=lambda error: self._enter_fatal(error, client),
            ready=self._ready,
            progress=self._progress,
            upserts=UpsertMemory(float(s.unchanged_window_seconds)),
            seen=ledger.seen,
            record_delivered=ledger.record,
            prepare=(lambda work: coalesce(work)) if s.coalesce_identifies else None,
        )
        dispatcher = self.dispatcher = KeyedDispatcher(deliverer.handle)
        coalesce = Coalescer(dispatcher, lambda: self._options)
        rebalance = Rebalance(consumer, self.offsets, dispatcher, self.health, grace_s=10.0)
        consumer.subscribe([s.kafka_topic], listener=rebalance)
        await consumer.start()
        status = 0
        committer = asyncio.create_task(self._committer(consumer))
        refresher = asyncio.create_task(self._refresh(client))
        reporter = Reporter(self, interval_s=float(s.quota_log_seconds))
        reporting = asyncio.create_task(reporter.run())
        try:
            while not stop.is_set():
                if dispatcher.crashed is not None:
                    log.error("delivery_crashed", error=repr(dispatcher.crashed))
                    status = 1
                    break
                self._flow_control(consumer, dispatcher.buffered, breaker)
                room = max(1, min(FETCH_MAX_RECORDS, s.max_buffered - dispatcher.buffered))
                batches = await consumer.getmany(timeout_ms=100, max_records=room)
                for tp, records in batches.items():
                    self._submit(tp, records, consumer, dispatcher, self._options)
        finally:
            refresher.cancel()
            reporting.cancel()
            await self._shutdown(consumer, dispatcher, committer)
            reporter.log()
        return status

    def _submit(
        self,
        tp: TopicPartition,
        records: list[ConsumerRecord[bytes, bytes]],
        consumer: AIOKafkaConsumer,
        dispatcher: KeyedDispatcher[Work],
        options: Options,
    ) -> None:
        if tp not in self.offsets:
            if tp not in consumer.assignment():
                return  # fetched just before a revoke: the next owner reads it again
            self.offsets.assign(tp, records[0].offset)
        tracker = self.offsets[tp]
        for record in records:
            try:
                tracker.fetched(record.offset)
            except ValueError:
                continue  # fetched again (a reset position): the first copy is already tracked
            work = work_from(record, tracker, options)
            dispatcher.submit(work.key, work)

    def _flow_control(self, consumer: AIOKafkaConsumer, buffered: int, breaker: Breaker) -> None:
        limit = self.settings.max_buffered
        # An open breaker holds fetching while there is work to probe with; with none buffered,
        # the next event fetched becomes the probe.
        hold = not self._ready.is_set() or (breaker.is_open() and buffered > 0)
        pause = hold or buffered >= limit or (self._paused and buffered > limit // 2)
        partitions = consumer.assignment()
        if pause and partitions:
            consumer.pause(*partitions)  # newly assigned partitions must stop too
        elif self._paused and partitions:
            consumer.resume(*partitions)
        self._paused = pause

    async def _committer(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            await self._progress.wait()
            self._progress.clear()
            await self.commit(consumer)
            await asyncio.sleep(COMMIT_SPACING_S)

    async def commit(self, consumer: AIOKafkaConsumer) -> None:
        positions = self.offsets.to_commit()
        if not positions:
            return
        try:
            await consumer.commit(dict(positions))
        except KafkaError as exc:
            # A rebalance took the partition: its next owner resumes from the last commit.
            log.warning("commit_failed", error=repr(exc))
            return
        self.offsets.mark_committed(positions)

    async def _shutdown(
        self,
        consumer: AIOKafkaConsumer,
        dispatcher: KeyedDispatcher[Work],
        committer: asyncio.Task[None],
    ) -> None:
        grace = float(self.settings.shutdown_grace_seconds)
        with contextlib.suppress(KafkaError):
            consumer.pause(*consumer.assignment())
        log.info("stopping", in_flight=dispatcher.buffered, grace_s=grace)
        try:
            async with asyncio.timeout(grace):
                await dispatcher.wait_idle()
        except TimeoutError:
            log.warning("shutdown_grace_exceeded", abandoned=dispatcher.buffered)
        await dispatcher.cancel()
        committer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await committer
        await self.commit(consumer)
        await consumer.stop()
        log.info("stopped", **dict(self.stats.outcomes))

    def _use(self, account: Account) -> None:
        """Account settings and catalog for everything translated or delivered from now on."""
        s = self.settings
        self._lookups = account.lookups
        self._options = Options(
            flavor=s.freshsales_flavor,
            catalog=account.catalog,
            track_activity_type=s.track_activity_type,
            page_activity_type=s.page_activity_type,
            lead_stage=s.lead_stage,
            stage_map=dict(s.stage_map),
            deliver_pages=s.page_events == "deliver",
        )

    def _wanted(self) -> Wanted:
        s = self.settings
        return Wanted(
            flavor=s.freshsales_flavor,
            activity_types=(s.track_activity_type, s.page_activity_type),
            stages=(s.lead_stage, *s.stage_map.values()),
            default_owner_id=s.default_owner_id,
        )

    async def _refresh(self, client: FreshsalesClient) -> None:
        """Re-read the account now and then: new custom fields, renamed stages, new owners."""
        while True:
            await asyncio.sleep(self._refresh_interval_s)
            try:
                account = await read_account(client, self._wanted())
            except DestinationError as error:
                log.warning("account_refresh_failed", error=str(error), keeping="previous")
                continue
            self._use(account)
            log.info("account_refreshed", calls=account.calls, lookups=len(account.lookups))

    async def _read_account(self, client: FreshsalesClient, stop: asyncio.Event) -> Account | None:
        delay = 1.0
        while not stop.is_set():
            try:
                account = await read_account(client, self._wanted())
            except ConfigurationError:
                raise
            except DestinationError as error:
                self.health.auth_ok = False
                self.health.fatal = str(error) if error.fatal else None
                log.error("account_unreadable", error=str(error), retry_in_s=delay)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await stop.wait()
                delay = min(delay * 2, self._recheck_interval_s)
                continue
            self.health.auth_ok, self.health.fatal = True, None
            for problem in account.catalog_problems:
                log.warning("field_catalog_unavailable", problem=problem)
            log.info("account_read", calls=account.calls, lookups=len(account.lookups))
            return account
        return None

    def _enter_fatal(self, error: DestinationError, client: FreshsalesClient) -> None:
        if not self._ready.is_set():
            return
        self._ready.clear()
        self.health.auth_ok = False
        self.health.fatal = str(error)
        log.error(
            "delivery_stopped",
            error=str(error),
            hint="fix FRESHSALES_API_KEY or its permissions; nothing is dead-lettered meanwhile",
        )
        task = asyncio.get_running_loop().create_task(self._recheck(client))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _recheck(self, client: FreshsalesClient) -> None:
        while not self._ready.is_set():
            await asyncio.sleep(self._recheck_interval_s)
            try:
                await client.call("GET", "selector/owners")
            except DestinationError as error:
                log.info("key_still_refused", error=str(error))
                continue
            self.health.auth_ok, self.health.fatal = True, None
            log.info("delivery_resumed")
            self._ready.set()
