"""Freshsales: the quota stage every call passes (``paced``, ``budget`` over the pure ``quota``
and its parts), then the only HTTP code (``client``, ``answers``), and the account's names and
standing."""
