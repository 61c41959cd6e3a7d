"""Consecutive identifies of one user as one event, so they cost one upsert instead of several.

Every input must be an identify that translated on its own; the merged event is translated again
by the caller. The last event supplies everything but the traits (its messageId, timestamp and
context), so the result reads as "the user's state after all of them".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from translate.event import Event

# Traits whose value is an object describing another record: merged field by field, so that an
# identify naming only the company's plan keeps the company's name from an earlier one.
NESTED_TRAITS = ("company", "deal")


def merge_identifies(events: Sequence[Event]) -> Event:
    """One identify with the traits of ``events`` merged in order: later values win."""
    if not events:
        raise ValueError("nothing to merge")
    last = events[-1]
    merged: dict[str, object] = dict(last)
    merged["traits"] = _merge_traits(_traits(e) for e in events)
    contexts = [c for e in events if isinstance(c := e.get("context"), Mapping)]
    if contexts:
        context = dict(contexts[-1])
        inner = [t for c in contexts if isinstance(t := c.get("traits"), Mapping)]
        if inner:
            context["traits"] = _merge_traits(inner)
        merged["context"] = context
    return merged


def _traits(event: Event) -> Mapping[str, object]:
    traits = event.get("traits")
    return traits if isinstance(traits, Mapping) else {}


def _merge_traits(all_traits: Iterable[Mapping[str, object]]) -> dict[str, object]:
    merged: dict[str, object] = {}
    for traits in all_traits:
        for key, value in traits.items():
            earlier = merged.get(key)
            if key in NESTED_TRAITS and isinstance(earlier, Mapping) and isinstance(value, Mapping):
                merged[key] = {**earlier, **value}
            else:
                merged[key] = value
    return merged
