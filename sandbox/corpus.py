"""Generated Segment events shaped like analytics.js output, for the demo and benchmarks.

``sessions(users, per_user)``: each session is an identify (traits unchanged between sessions),
two page views and one track, in that order per user — the corpus the quota benchmark names.
Deterministic for a given seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PAGES = (("Pricing", "/pricing"), ("Docs", "/docs"), ("Blog", "/blog/launch"), ("Home", "/"))
EVENTS = ("Signed Up", "Trial Started", "Order Completed", "Feature Used")


def _context(user: int) -> dict[str, object]:
    return {
        "library": {"name": "analytics.js", "version": "5.2.0"},
        "ip": f"203.0.113.{user % 250}",
        "locale": "en-GB",
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0",
        "traits": {"email": f"user{user}@example.org"},
    }


def _identify(user: int, when: datetime, mid: str, companies: bool) -> dict[str, object]:
    traits: dict[str, object] = {
        "email": f"user{user}@example.org",
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
        "userId": f"user-{user}",
        "traits": traits,
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
            yield orjson.dumps(_identify(user, when, f"{prefix}-identify", companies))
            for n in range(2):
                name, path = rng.choice(PAGES)
                yield orjson.dumps(
                    {
                        "type": "page",
                        "userId": f"user-{user}",
                        "name": name,
                        "properties": {
                            "path": path,
                            "url": f"https://example.org{path}",
                            "title": f"{name} | Example",
                        },
                        "messageId": f"{prefix}-page-{n}",
                        "timestamp": (when + timedelta(seconds=10 + n)).isoformat(),
                        "context": _context(user),
                    }
                )
            yield orjson.dumps(
                {
                    "type": "track",
                    "userId": f"user-{user}",
                    "event": rng.choice(EVENTS),
                    "properties": {"plan": "trial", "value": rng.randrange(1, 500)},
                    "messageId": f"{prefix}-track",
                    "timestamp": (when + timedelta(seconds=30)).isoformat(),
                    "context": _context(user),
                }
            )
