"""Which operation a path and method reach; everything else is a 404 or a 405.

Paths are relative to the flavour's API base. The module a route belongs to is also the unit
``limited_keys`` forbids: contacts, sales_accounts, deals, leads, sales_activities or selector
(``settings/{module}/fields`` and ``filtered_search/{contact,lead}`` belong to their module;
``lookup`` checks each module its ``entities`` name).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

from sandbox.simulator import deletion, handlers, search
from sandbox.simulator.handlers import Answer, Call

Handler = Callable[[Call], Answer]

_RECORDS = {"GET": handlers.index, "POST": handlers.create}
_RECORD = {"GET": handlers.show, "PUT": handlers.update, "DELETE": deletion.destroy}
_UPSERT = {"POST": handlers.upsert}
_FORGET = {"DELETE": deletion.forget}
_FILTERED_SEARCH = {"POST": search.filtered_search}
_LOOKUP = {"GET": search.lookup}
# The CRM's own records: upserted by a unique field, deleted to the bin, forgettable.
_MAIN_RECORDS = frozenset({"contacts", "sales_accounts", "deals", "leads"})


@dataclass(frozen=True)
class Route:
    module: str
    ident: int | None
    methods: Mapping[str, Handler]


def match(path: str, modules: tuple[str, ...]) -> Route | None:
    """The route of ``path`` (below the API base) on an account with these record modules."""
    parts = path.strip("/").split("/")
    head, rest = parts[0], parts[1:]
    if head in modules:
        if not rest:
            return Route(head, None, _RECORDS)
        if len(rest) == 1 and rest[0] == "upsert" and head in _MAIN_RECORDS:
            return Route(head, None, _UPSERT)
        if len(rest) == 1 and rest[0].isdigit():
            return Route(head, int(rest[0]), _RECORD)
        if rest[1:] == ["forget"] and rest[0].isdigit() and head in _MAIN_RECORDS:
            return Route(head, int(rest[0]), _FORGET)
        return None
    if head == "filtered_search" and len(rest) == 1 and search.ENTITIES.get(rest[0]) in modules:
        return Route(search.ENTITIES[rest[0]], None, _FILTERED_SEARCH)
    if head == "lookup" and not rest:
        return Route("lookup", None, _LOOKUP)
    if head == "selector" and len(rest) == 1:
        return Route("selector", None, {"GET": partial(handlers.selector, name=rest[0])})
    stages_of = len(rest) == 3 and rest[::2] == ["deal_pipelines", "deal_stages"]
    if head == "selector" and stages_of and rest[1].isdigit():
        return Route("selector", int(rest[1]), {"GET": handlers.pipeline_stages})
    if head == "settings" and len(rest) == 2 and rest[0] in modules and rest[1] == "fields":
        return Route(rest[0], None, {"GET": handlers.settings})
    return None
