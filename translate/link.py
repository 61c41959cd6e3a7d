"""Linking a person to an account without losing the accounts they already have.

Freshsales replaces a contact's whole ``sales_accounts`` list with what a write sends, so adding
one account means sending every account the person has, plus the new one. These are the pure
rules for that: reading the list from an answer, and the list to send (or that none is needed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

Link = tuple[int, bool]
"""An account id and whether it is the person's primary account."""


def read_links(value: object) -> tuple[Link, ...] | None:
    """The links in an answer's ``sales_accounts`` (partial-account objects or ``{id,
    is_primary}``, or links already read); None when they cannot all be read: a list we cannot
    read whole must never be written back, or the unreadable accounts would be dropped."""
    if not isinstance(value, list | tuple):
        return None
    links: list[Link] = []
    for entry in value:
        if isinstance(entry, Mapping):
            ident, primary = entry.get("id"), entry.get("is_primary")
        elif isinstance(entry, tuple) and len(entry) == 2:
            ident, primary = entry
        else:
            return None
        if isinstance(ident, str) and ident.isdigit():
            ident = int(ident)
        if not isinstance(ident, int) or isinstance(ident, bool):
            return None
        links.append((ident, primary is True))
    return tuple(links)


def merge(current: Sequence[Link], account: int, *, primary: bool) -> tuple[tuple[Link, ...], bool]:
    """The links to write so the person has ``account`` and keeps every other one, and whether
    that changes anything (False: the person already has it as wanted; the links are then the
    current ones, so writing them anyway loses nothing).

    ``primary``: the account becomes the primary one (identify's ``company``: "the returned id goes
    in as the primary account"), the others are kept as secondary. Otherwise (group) it is added as
    primary only when the person has no primary account, and an account already linked stays as
    it is.
    """
    ids = [ident for ident, _ in current]
    if not primary:
        if account in ids:
            return tuple(current), False
        has_primary = any(is_primary for _, is_primary in current)
        return (*current, (account, not has_primary)), True
    if (account, True) in current and sum(is_primary for _, is_primary in current) == 1:
        return tuple(current), False
    kept = tuple((ident, False) for ident in ids if ident != account)
    return (*kept, (account, True)), True


def as_body(links: Sequence[Link]) -> list[dict[str, object]]:
    """``[{"id", "is_primary"}]``, the write form of a contact's ``sales_accounts``."""
    return [{"id": ident, "is_primary": is_primary} for ident, is_primary in links]
