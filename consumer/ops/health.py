"""What /healthz and /readyz answer: pure judgements over the service's state.

Kubernetes restarts a pod whose liveness probe fails and routes nothing to one that is not ready;
for a consumer, "ready" is what dashboards and alerts watch: partitions assigned, the key
accepted, the circuit closed.
"""

from __future__ import annotations

from typing import Final

STALLED_AFTER_S: Final = 60.0
"""/healthz fails when the fetch loop has not come round for this long (it turns every 0.1 s)."""


def liveness(stalled: float | None, *, stopping: bool) -> tuple[bool, str]:
    """The event loop answers (or this would not run) and the fetch loop turns: ``stalled`` is
    the time since it last came round (None before its first turn)."""
    if stalled is None:
        return True, "starting"
    if stalled > STALLED_AFTER_S and not stopping:
        return False, f"the fetch loop has not run for {stalled:.0f}s"
    return True, "ok"


def readiness(
    *,
    stopping: bool,
    refusal: str | None,
    key_accepted: bool,
    waiting: str | None,
    assigned: bool,
    circuit_open: bool,
    kafka_unreachable: str | None = None,
    identities_read: bool = True,
) -> tuple[bool, str]:
    """Worth sending traffic to: consuming, the key accepted, Freshsales healthy. ``waiting``:
    what the start-up reads of the account are waiting for (the read retried, its last error);
    ``kafka_unreachable``: why Kafka cannot be reached at start-up, while it cannot."""
    if stopping:
        return False, "stopping"
    if refusal:
        return False, f"stopped: {refusal}"
    if not key_accepted:
        why = f": {waiting}" if waiting else ""
        return False, f"the Freshsales account has not been read yet{why}"
    if kafka_unreachable:
        return False, f"the Kafka broker is unreachable: {kafka_unreachable}"
    if not identities_read:
        return False, "reading the identity map (who people are) from Kafka"
    if not assigned:
        return False, "no partitions assigned"
    if circuit_open:
        return False, "circuit open: most recent Freshsales calls failed"
    return True, "ok"
