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
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from consumer.breaker import Breaker
from consumer.budget import Budget
from consumer.coalesce import Coalescer
from consumer.dedupe import SeenMessages
from consumer.delivery import Deliverer, letter_sender
from consumer.dispatch import KeyedDispatcher
from consumer.freshsales import ClientOptions, FreshsalesClient
from consumer.identities import IdentityCache
from consumer.intake import work_from
from consumer.kafka_config import connection, consumer_config, producer_config
from consumer.kafka_start import started
from consumer.keeper import AccountKeeper, Health
from consumer.ledger import Ledger
from consumer.logs import get_logger
from consumer.offsets import Offsets
from consumer.ops_server import OpsServer
from consumer.policy import RetryPolicy
from consumer.quota import QuotaConfig, drain_eta_s
from consumer.rebalance import Rebalance
from consumer.report import Reporter
from consumer.settings import Settings
from consumer.unchanged import UpsertMemory
from consumer.work import Stats, Work
from translate import Options

log = get_logger("consumer.service")
# Commits follow progress closely (what is committed is never sent again after a crash) but are
# spaced a little, so a burst of finishes becomes one commit.
COMMIT_SPACING_S = 0.01
RECHECK_INTERVAL_S = 30.0
REFRESH_INTERVAL_S = 900.0
FETCH_MAX_RECORDS = 500
# /healthz fails when the fetch loop has not come round for this long (it polls every 0.1 s).
STALLED_AFTER_S = 60.0


class Service:
    def __init__(
        self,
        settings: Settings,
        *,
        recheck_interval_s: float = RECHECK_INTERVAL_S,
        refresh_interval_s: float = REFRESH_INTERVAL_S,
    ) -> None:
        self.settings = settings
        self.account = AccountKeeper(
            settings, recheck_interval_s=recheck_interval_s, refresh_interval_s=refresh_interval_s
        )
        self.health: Health = self.account.health
        self.offsets: Offsets[TopicPartition] = Offsets()
        self._progress = asyncio.Event()
        self._deliverer: Deliverer | None = None
        self._breaker = Breaker()
        self._client: FreshsalesClient | None = None
        self._paused = False
        self._last_poll: float | None = None
        self._stopping = False
        self.ops_port: int | None = None
        """The port /metrics, /healthz and /readyz answer on, once started."""
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

    def drain_eta_s(self) -> float | None:
        backlog = self.backlog()
        if backlog is None:
            return None
        return drain_eta_s(backlog, self.stats.calls_per_event, self.budget.calls_per_hour())

    def alive(self) -> tuple[bool, str]:
        """/healthz: the event loop answers (or this would not run) and the fetch loop turns."""
        stalled = self.fetch_loop_age_s()
        if stalled is None:
            return True, "starting"
        if stalled > STALLED_AFTER_S and not self._stopping:
            return False, f"the fetch loop has not run for {stalled:.0f}s"
        return True, "ok"

    def ready(self) -> tuple[bool, str]:
        """/readyz: worth sending traffic to — consuming, the key accepted, Freshsales healthy."""
        health = self.health
        if self._stopping:
            return False, "stopping"
        if health.fatal:
            return False, f"stopped: {health.fatal}"
        if not health.auth_ok:
            return False, "the Freshsales account has not been read yet"
        if not health.assigned:
            return False, "no partitions assigned"
        if self._breaker.is_open():
            return False, "circuit open: most recent Freshsales calls failed"
        return True, "ok"

    def fetch_loop_age_s(self) -> float | None:
        """Seconds since the fetch loop last came round; None before its first turn."""
        return None if self._last_poll is None else time.monotonic() - self._last_poll

    def circuit_open(self) -> bool:
        return self._breaker.is_open()

    def key_refused(self) -> bool:
        """Delivery is stopped by a fatal answer (401/403, a redirect) until a re-check passes."""
        return bool(self.health.fatal)

    def calls_by_endpoint(self) -> dict[tuple[str, str], int]:
        return dict(self._client.answers) if self._client else {}

    def buffered(self) -> int:
        return self.dispatcher.buffered if self.dispatcher else 0

    async def run(self, stop: asyncio.Event) -> int:
        """Serve until ``stop`` is set; the exit status (0 clean, 1 crashed). Raises
        ConfigurationError (before consuming anything) for a setting that cannot work."""
        ops = OpsServer(self, self.settings.http_port)
        self.ops_port = await ops.start()
        try:
            return await self._run(stop)
        finally:
            self._stopping = True
            await ops.stop()

    async def _run(self, stop: asyncio.Event) -> int:
        s = self.settings
        client = self._client = FreshsalesClient(
            s.api_base,
            s.freshsales_api_key.reveal(),
            ClientOptions(pool_size=s.max_in_flight, timeout_s=float(s.http_timeout_seconds)),
            meter=self.budget,
        )
        async with client:
            if not await self.account.read(client, stop):
                return 0
            producer = await started(
                lambda: AIOKafkaProducer(**producer_config(s)), stop, "producer"
            )
            if producer is None:
                return 0
            consumer = self.consumer = AIOKafkaConsumer(**consumer_config(s))
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
        account = self.account
        breaker = self._breaker
        deliverer = self._deliverer = Deliverer(
            client,
            letter_sender(producer.send_and_wait),
            dlq_topic=s.dlq_topic,
            lookups=lambda: account.lookups,
            people=IdentityCache(),
            policy=RetryPolicy(window_s=float(s.retry_max_seconds)),
            breaker=breaker,
            on_fatal=lambda error: account.refused(error, client),
            ready=account.delivering,
            progress=self._progress,
            upserts=UpsertMemory(float(s.unchanged_window_seconds)),
            seen=ledger.seen,
            record_delivered=ledger.record,
            prepare=(lambda work: coalesce(work)) if s.coalesce_identifies else None,
        )
        dispatcher = self.dispatcher = KeyedDispatcher(deliverer.handle)
        coalesce = Coalescer(dispatcher, lambda: account.options)
        rebalance = Rebalance(consumer, self.offsets, dispatcher, self.health, grace_s=10.0)
        consumer.subscribe([s.kafka_topic], listener=rebalance)
        await consumer.start()
        status = 0
        committer = asyncio.create_task(self._committer(consumer))
        refresher = asyncio.create_task(account.refresh(client))
        reporter = Reporter(self, interval_s=float(s.quota_log_seconds))
        reporting = asyncio.create_task(reporter.run())
        try:
            while not stop.is_set():
                self._last_poll = time.monotonic()
                if dispatcher.crashed is not None:
                    log.error("delivery_crashed", error=repr(dispatcher.crashed))
                    status = 1
                    break
                self._flow_control(consumer, dispatcher.buffered, breaker)
                room = max(1, min(FETCH_MAX_RECORDS, s.max_buffered - dispatcher.buffered))
                batches = await consumer.getmany(timeout_ms=100, max_records=room)
                for tp, records in batches.items():
                    self._submit(tp, records, consumer, dispatcher, account.options)
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
        now = time.monotonic()
        for record in records:
            try:
                tracker.fetched(record.offset, now)
            except ValueError:
                continue  # fetched again (a reset position): the first copy is already tracked
            work = work_from(record, tracker, options)
            dispatcher.submit(work.key, work)

    def _flow_control(self, consumer: AIOKafkaConsumer, buffered: int, breaker: Breaker) -> None:
        limit = self.settings.max_buffered
        # An open breaker holds fetching while there is work to probe with; with none buffered,
        # the next event fetched becomes the probe.
        hold = not self.account.delivering.is_set() or (breaker.is_open() and buffered > 0)
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
