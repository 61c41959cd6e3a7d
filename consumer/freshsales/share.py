"""This replica's part of the deployment's quota, from what the consumer group gave it.

``FRESHSALES_QUOTA_SHARE`` is the deployment's part of the account; the replicas of the
deployment are the members of one consumer group, and the group already divides the topic
among them. So each replica takes the part of the share its partitions are of the topic's: no
per-replica setting, no count of replicas to keep right, and the parts add up to the whole share
after every rebalance, whether an autoscaler added a replica or one died (its partitions go to
the survivors once its session times out, and with them its part of the quota).

Partitions are not traffic: on a skewed topic the replica of the busy partitions waits while a
quiet one leaves its part unused. The parts never add up to more than the share, so the skew
costs speed, never 429s; keying by userId spreads the users, and so the calls, evenly.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Part:
    """A replica's part of the deployment: ``held`` of the topic's ``partitions``."""

    held: int
    partitions: int

    @property
    def fraction(self) -> float:
        return self.held / self.partitions


ALONE = Part(1, 1)
"""Before the group has assigned anything, a replica plans as if it were the only one: the
start-up reads must go somewhere, and the spacing keeps them gentle (``freshsales.pacing``)."""


def part_of(held: int, partitions: int | None, previous: Part) -> Part:
    """The part after a rebalance: ``held`` partitions of the topic, which has ``partitions``
    (None: the consumer has no metadata for it yet)."""
    if held <= 0:
        # Nothing to deliver: no quota needed (the floor of one call a window remains, for the
        # account's re-reads and key checks).
        return Part(0, max(1, partitions or previous.partitions))
    if partitions is None or partitions < held:
        # Metadata lagging the assignment: the assignment is the better witness of the topic.
        return Part(held, max(held, previous.partitions))
    return Part(held, partitions)
