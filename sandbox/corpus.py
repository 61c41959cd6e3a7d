"""Generated Segment events shaped like what a website sends, for the demo and benchmarks.

``sessions(users, per_user)``: each user visits ``per_user`` times. On the first visit they
browse anonymously — two page views with the browser's ``anonymousId`` alone, as analytics.js
sends them before anybody knows who the visitor is — then sign up: an identify with their
database ``userId`` (a number, as most sites' are), the same ``anonymousId`` and the email in the
traits, then a track. Later visits send the identify again (analytics.js repeats the user's
cached traits, unchanged), two page views and a track, each with the ``userId`` and the
``anonymousId`` and no email: from the sign-up on, only the identity map knows who the userId
is. Deterministic for a given seed.

``user_key`` is the key a Kafka source would give an event: its userId, else its anonymousId.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PAGES = (("Pricing", "/pricing"), ("Docs", "/docs"), ("Blog", "/blog/launch"), ("Home", "/"))
EVENTS = ("Signed Up", "Trial Started", "Order Completed", "Feature Used")
FIRST_USER_ID = 100_001


def user_id(user: int) -> str:
    return str(FIRST_USER_ID + user)


def anonymous_id(user: int) -> str:
    """A browser's id: a UUID, as analytics.js makes them (deterministic here)."""
    return str(uuid.UUID(int=0xA7E0B1F2 << 96 | user))


def email(user: int) -> str:
    return f"user{user}@example.org"


def _context(user: int) -> dict[str, object]:
    return {
        "library": {"name": "analytics.js", "version": "5.2.0"},
        "ip": f"203.0.113.{user % 250}",
        "locale": "en-GB",
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0",
    }


def _identify(user: int, when: datetime, mid: str, companies: bool) -> dict[str, object]:
    traits: dict[str, object] = {
        "email": email(user),
        "firstName": f"User{user}",
        "lastName": "Example",
        "title": ("CTO", "Engineer", "Analyst")[user % 3],
        "plan": "trial",
    }
    if companies and user % 4 == 0:
        traits["company"] = {"name": f"Company {user // 4}", "website": "https://example.org"}
    if user % 10 == 0:
        traits["fsContact"] = True
    return {
        "type": "identify",
        "userId": user_id(user),
        "anonymousId": anonymous_id(user),
        "traits": traits,
        "messageId": mid,
        "timestamp": when.isoformat(),
        "context": _context(user),
    }


def _page(
    user: int, when: datetime, mid: str, rng: random.Random, *, known: bool
) -> dict[str, object]:
    name, path = rng.choice(PAGES)
    event: dict[str, object] = {
        "type": "page",
        "anonymousId": anonymous_id(user),
        "name": name,
        "properties": {
            "path": path,
            "url": f"https://example.org{path}",
            "title": f"{name} | Example",
        },
        "messageId": mid,
        "timestamp": when.isoformat(),
        "context": _context(user),
    }
    if known:
        event["userId"] = user_id(user)
    return event


def _track(user: int, when: datetime, mid: str, rng: random.Random) -> dict[str, object]:
    return {
        "type": "track",
        "userId": user_id(user),
        "anonymousId": anonymous_id(user),
        "event": rng.choice(EVENTS),
        "properties": {"plan": "trial", "value": rng.randrange(1, 500)},
        "messageId": mid,
        "timestamp": when.isoformat(),
        "context": _context(user),
    }


def sessions(
    users: int, per_user: int = 1, seed: int = 7, *, companies: bool = True
) -> Iterator[bytes]:
    """``companies``: every fourth user's traits name a company (an account upsert on first
    sight). Without them an identify is exactly one call, the quota benchmark's arithmetic."""
    rng = random.Random(seed)
    for session in range(per_user):
        for user in range(users):
            when = START + timedelta(days=session, minutes=user)
            prefix = f"gen-{user}-{session}"
            first = session == 0
            pages = [
                _page(user, when + timedelta(seconds=n), f"{prefix}-page-{n}", rng, known=not first)
                for n in range(2)
            ]
            signup = _identify(user, when + timedelta(seconds=10), f"{prefix}-identify", companies)
            track = _track(user, when + timedelta(seconds=30), f"{prefix}-track", rng)
            # Before sign-up the pages come first; a known user is identified on arrival.
            ordered = [*pages, signup, track] if first else [signup, *pages, track]
            for event in ordered:
                yield orjson.dumps(event)


def user_key(event: bytes) -> bytes | None:
    """The key a Kafka source gives an event: its userId, else its anonymousId (None: neither,
    or not JSON)."""
    try:
        value = orjson.loads(event)
    except orjson.JSONDecodeError:
        return None
    user = value.get("userId") or value.get("anonymousId") if isinstance(value, dict) else None
    return str(user).encode() if user else None
