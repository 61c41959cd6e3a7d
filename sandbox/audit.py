"""Evidence for the delivery guarantees: a stream of events whose effects can be audited in the
simulated CRM, and the audit.

Every user's events are keyed by userId, in order: an identify carrying a new version of the
first name (``v000``, ``v001``, …), then track and page events naming the user by userId alone,
then the next version (optionally after an anonymous page view of the visitor they were). After a
run, the simulator answers the questions the guarantees are about:

- lost: a track/page messageId with no sales activity, or a contact whose first name is not the
  user's last version (with coalescing off, also a version that never reached Freshsales);
- repeated: activities per messageId beyond one (the notes of every activity end with
  ``messageId: <id>``; a digest's have one such line per event), accepted upserts per (email,
  version) beyond one.

Used by the crash tests and ``bench.chaos_bench``; the service never imports it.
"""

from __future__ import annotations

import hashlib
import re
import uuid
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson

from sandbox.simulator import Simulator

_MESSAGE_ID = re.compile(r"^messageId: (.+)$", re.MULTILINE)
# A digest's notes: one line per event, each ending with its messageId.
_DIGEST_LINE = re.compile(r"^.* · messageId: (.+)$", re.MULTILINE)
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
Record = tuple[bytes | None, bytes]


@dataclass
class Produced:
    """What went into the topic, to hold the CRM against."""

    events: int = 0
    activities: set[str] = field(default_factory=set)
    """messageIds of the track and page events."""
    versions: dict[str, list[str]] = field(default_factory=dict)
    """email → the first names its identifies carried, in order."""
    visits: int = 0
    """Anonymous page views among the activities (they reach the person as history)."""


class UserStream:
    """Events of ``users`` users, round robin, each user's in order, as a website sends them: an
    identify with the next version (the database userId, the email), then ``activities``
    track/page events that name the person by their userId alone, then the next identify.

    With ``visitors``, each user is first an anonymous visitor: a page view with only an
    anonymousId (keyed by it, so it may reach another partition than the identify), which the
    first identify links by carrying the same anonymousId — the page reaches the person as their
    history, or directly when the identify came first."""

    def __init__(
        self, users: int, activities: int = 2, run: str = "run", *, visitors: bool = False
    ) -> None:
        self.users = users
        self.activities = activities
        self.run = run
        self.visitors = visitors
        self.produced = Produced()
        self._steps = [0] * users
        self._visited = [not visitors] * users
        # Database ids: numbers, distinct per run (each run has its own identity map anyway).
        self._base = (zlib.crc32(run.encode()) % 9_000 + 1_000) * 1_000_000
        self._round = self._events()

    def email(self, user: int) -> str:
        return f"{self.run}-user{user}@example.org"

    def user_id(self, user: int) -> str:
        return str(self._base + user)

    def anonymous_id(self, user: int) -> str:
        digest = hashlib.sha256(f"{self.run}/{user}".encode()).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))

    def take(self, count: int) -> list[Record]:
        """The next ``count`` events as (key, value) records, noted in ``produced``."""
        # One round robin across calls: a burst of a few events continues where the last
        # stopped rather than starting again at user 0.
        return [next(self._round) for _ in range(count)]

    def _events(self) -> Iterator[Record]:
        while True:
            for user in range(self.users):
                yield self._next(user)

    def _next(self, user: int) -> Record:
        if not self._visited[user]:
            self._visited[user] = True
            return self._visit(user)
        step = self._steps[user]
        self._steps[user] += 1
        version, position = divmod(step, self.activities + 1)
        user_id = self.user_id(user)
        email = self.email(user)
        when = (START + timedelta(seconds=step)).isoformat()
        mid = f"{self.run}-{user}-{step}"
        event: dict[str, object]
        if position == 0:
            first = f"v{version:03d}"
            event = {
                "type": "identify",
                "userId": user_id,
                "messageId": mid,
                "timestamp": when,
                "traits": {"email": email, "firstName": first, "lastName": "Chaos"},
            }
            if self.visitors and version == 0:
                event["anonymousId"] = self.anonymous_id(user)
            self.produced.versions.setdefault(email, []).append(first)
        else:
            kind = "track" if position % 2 else "page"
            event = {
                "type": kind,
                "userId": user_id,
                "messageId": mid,
                "timestamp": when,
                "properties": {"step": step, "url": f"https://example.org/{step}"},
            }
            if kind == "track":
                event["event"] = "Feature Used"
            else:
                event["name"] = f"Page {step}"
            self.produced.activities.add(mid)
        self.produced.events += 1
        return user_id.encode(), orjson.dumps(event)

    def _visit(self, user: int) -> Record:
        anonymous_id = self.anonymous_id(user)
        mid = f"{self.run}-{user}-visit"
        event = {
            "type": "page",
            "anonymousId": anonymous_id,
            "messageId": mid,
            "timestamp": (START - timedelta(minutes=5)).isoformat(),
            "name": "Pricing",
            "properties": {"url": "https://example.org/pricing"},
        }
        self.produced.activities.add(mid)
        self.produced.visits += 1
        self.produced.events += 1
        return anonymous_id.encode(), orjson.dumps(event)


def message_ids_of(body: object) -> list[str]:
    """The messageIds an activity's request body carries in its notes: one for an event's own
    activity (its last line), one per line for a digest; none when it names none."""
    activity = body.get("sales_activity") if isinstance(body, dict) else None
    notes = str((activity.get("notes") if isinstance(activity, dict) else None) or "")
    digested = _DIGEST_LINE.findall(notes)
    if digested:
        return digested
    found = _MESSAGE_ID.findall(notes)
    # The last line: a property could be called messageId too.
    return found[-1:]


def activities_per_message(sim: Simulator, flavor: str = "suite") -> Counter[str]:
    """How many sales activities the account holds per messageId."""
    counts: Counter[str] = Counter()
    for activity in sim.state(flavor)["sales_activities"]:
        counts.update(message_ids_of({"sales_activity": activity}))
    return counts


def accepted_upserts(sim: Simulator) -> Counter[tuple[str, str]]:
    """Accepted contact upserts per (email, first name) in the request log. Upserts without a
    first name (an activity finding its person) are not identifies and are not counted. Exact
    only when the log kept every request (``SimulatorConfig.log_limit=0``)."""
    counts: Counter[tuple[str, str]] = Counter()
    for request in sim.requests:
        if not request.path.endswith("/contacts/upsert") or request.status not in (200, 201):
            continue
        contact = request.body.get("contact") if isinstance(request.body, dict) else None
        if isinstance(contact, dict) and "first_name" in contact:
            counts[str(contact["emails"]), str(contact["first_name"])] += 1
    return counts


@dataclass(frozen=True)
class Audit:
    events: int
    activities: int
    missing_activities: tuple[str, ...]
    stale_contacts: tuple[str, ...]
    """Emails whose contact does not hold the user's last version (or does not exist)."""
    versions_never_sent: int
    """Identify versions with no accepted upsert; 0 expected only without coalescing."""
    duplicate_activities: int
    duplicate_upserts: int
    unexpected_activities: int
    """Activities for messageIds that were never produced (should be 0)."""

    @property
    def lost(self) -> int:
        return len(self.missing_activities) + len(self.stale_contacts)


def audit(sim: Simulator, produced: Produced, flavor: str = "suite") -> Audit:
    per_message = activities_per_message(sim, flavor)
    upserts = accepted_upserts(sim)
    contacts = {c["email"]: c for c in sim.state(flavor)["contacts"]}
    stale = tuple(
        sorted(
            email
            for email, versions in produced.versions.items()
            if contacts.get(email, {}).get("first_name") != versions[-1]
        )
    )
    return Audit(
        events=produced.events,
        activities=len(produced.activities),
        missing_activities=tuple(sorted(produced.activities - set(per_message))),
        stale_contacts=stale,
        versions_never_sent=sum(
            1
            for email, versions in produced.versions.items()
            for version in set(versions)
            if not upserts[email, version]
        ),
        duplicate_activities=sum(n - 1 for n in per_message.values() if n > 1),
        duplicate_upserts=sum(n - 1 for n in upserts.values() if n > 1),
        unexpected_activities=sum(
            n for mid, n in per_message.items() if mid not in produced.activities
        ),
    )
