"""Replicas of one deployment on one account, each with its own pure quota model and nothing
shared but the consumer group's assignment: a discrete simulation against a server that counts
a sliding minute, as the simulator (and Freshsales, as far as anyone knows) does.

The claims of ``consumer.freshsales.share`` and ``pacing``: the parts add up to the share after
every rebalance, a joiner and a restart start gently, a dead member's part goes to the survivors
once its partitions do — and together they never exceed the account's minute.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from consumer.freshsales.quota import Quota, QuotaConfig

LIMIT = 240
START_UP_READS = 7


@dataclass
class Server:
    limit: int
    stamps: deque[float] = field(default_factory=deque)
    accepted: list[float] = field(default_factory=list)
    refused: list[float] = field(default_factory=list)

    def admit(self, now: float) -> float | None:
        """None when admitted, else the Retry-After."""
        while self.stamps and self.stamps[0] <= now - 60.0:
            self.stamps.popleft()
        if len(self.stamps) >= self.limit:
            self.refused.append(now)
            return float(max(1, math.ceil(self.stamps[-self.limit] + 60.0 - now)))
        self.stamps.append(now)
        self.accepted.append(now)
        return None


@dataclass(frozen=True)
class Step:
    at: float
    start: Sequence[str] = ()
    kill: Sequence[str] = ()
    assign: dict[str, tuple[int, int]] = field(default_factory=dict)


def simulate(steps: Sequence[Step], end_s: float, config: QuotaConfig) -> Server:
    """Every replica on a backlog, sending whenever its model lets it (answers come at once);
    before its first assignment a replica makes only the start-up reads."""
    server = Server(LIMIT)
    replicas: dict[str, Quota] = {}
    assigned: set[str] = set()
    pending = sorted(steps, key=lambda s: s.at)
    now = 0.0
    while now < end_s:
        while pending and pending[0].at <= now:
            step = pending.pop(0)
            for name in step.start:
                replicas[name] = Quota(config, now)
                assigned.discard(name)
            for name in step.kill:
                del replicas[name]
            for name, (held, partitions) in step.assign.items():
                replicas[name].assigned(held, partitions)
                assigned.add(name)
        due = [end_s] + ([pending[0].at] if pending else [])
        for name, quota in replicas.items():
            while name in assigned or quota.state(now).hour.used < START_UP_READS:
                wait = quota.wait_s(now)
                assert wait is not None  # nothing stays in flight: answers come at once
                if wait > 0:
                    due.append(now + wait)
                    break
                ticket = quota.sent(now)
                retry_after = server.admit(now)
                status = 200 if retry_after is None else 429
                quota.answered(now, ticket, status, retry_after_s=retry_after)
        now = max(min(due), now + 1e-6)
    return server


KILL = 80.0
# Replica 1 alone on six partitions; two more at 20 s (a rebalance takes the group about 8 s);
# one of them is killed at 80 s and its partitions move once its session has timed out.
ONE_THREE_TWO = (
    Step(0.0, start=["r1"]),
    Step(2.0, assign={"r1": (6, 6)}),
    Step(20.0, start=["r2", "r3"]),
    Step(28.0, assign={"r1": (2, 6), "r2": (2, 6), "r3": (2, 6)}),
    Step(KILL, kill=["r3"]),
    Step(KILL + 16.0, assign={"r1": (3, 6), "r2": (3, 6)}),
)


def test_replicas_1_3_2_never_exceed_the_account_and_the_survivors_use_it_whole() -> None:
    server = simulate(ONE_THREE_TWO, KILL + 115.0, QuotaConfig(per_minute=LIMIT, per_hour=5000))
    assert server.refused == []
    after_kill = sum(1 for t in server.accepted if KILL + 50 <= t < KILL + 110)
    assert after_kill >= 0.85 * LIMIT
    assert after_kill <= LIMIT


def test_a_restarted_replica_starts_gently_beside_the_calls_of_its_previous_life() -> None:
    steps = (
        Step(0.0, start=["r1"]),
        Step(1.0, assign={"r1": (3, 3)}),
        Step(90.0, kill=["r1"]),
        Step(92.0, start=["r1"]),  # the restart: its window is empty, the server's is not
        Step(94.0, assign={"r1": (3, 3)}),
    )
    server = simulate(steps, 200.0, QuotaConfig(per_minute=LIMIT, per_hour=5000))
    assert server.refused == []
    assert sum(1 for t in server.accepted if 130 <= t < 190) >= 0.95 * LIMIT


def test_alone_the_whole_quota_is_used_every_minute() -> None:
    steps = (Step(0.0, start=["r1"]), Step(1.0, assign={"r1": (6, 6)}))
    server = simulate(steps, 181.0, QuotaConfig(per_minute=LIMIT, per_hour=50_000))
    assert server.refused == []
    per_minute = [sum(1 for t in server.accepted if m <= t < m + 60) for m in (0, 60, 120)]
    assert per_minute == [pytest.approx(LIMIT, abs=5)] * 3


def test_without_spacing_a_joiner_meets_the_window_its_elders_filled_at_once() -> None:
    # Why calls are spaced: with a whole minute's worth allowed at once (as before), the two
    # that join spend at once what they saved up while joining, into a server window that the
    # calls of replica 1 still fill.
    burst = QuotaConfig(per_minute=LIMIT, per_hour=5000, burst_s=60.0)
    server = simulate(ONE_THREE_TWO, KILL + 115.0, burst)
    assert server.refused
