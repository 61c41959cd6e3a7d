"""Delete and forget (reference §8): a delete is reversible in the real CRM, a forget is not.

``DELETE {module}/{id}`` moves a contact, account, deal or lead to the account's recycle bin: it is
gone from its module (404, unlisted, its unique values free for a new record) but kept, as
Freshsales keeps it for 90 days. ``DELETE {module}/{id}/forget`` is the right to be forgotten: the
record goes for good, from its module or from the bin, with every sales activity about it; the
accounts and deals it was linked to stay.
"""

from __future__ import annotations

from sandbox.simulator.errors import ApiError
from sandbox.simulator.handlers import Answer, Call, not_found


def destroy(call: Call) -> Answer:
    if not call.account.store.delete(call.module, call.ident or 0):
        raise not_found(call)
    # The real body of a delete is unobserved; clients go by the status, so the simulator's
    # answer since its first version stays.
    return 200, True


def forget(call: Call) -> Answer:
    if not call.account.config.forget_allowed:
        # An admin can bar users from forgetting; the key's user is one of them.
        raise ApiError(403, "The API key's user is not allowed to forget records")
    if not call.account.forget(call.module, call.ident or 0):
        raise not_found(call)
    return 200, {"result": True}
