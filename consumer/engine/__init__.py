"""The engine: records in from an event source, per-user queues, folding what waits, delivery
with retries and dead letters, and the offsets safe to commit. Its decisions are pure modules
(``policy``, ``flow``, ``breaker``, ``offsets``); it reaches Kafka only through ``source``."""
