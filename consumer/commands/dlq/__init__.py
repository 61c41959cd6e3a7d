"""``dlq replay``: dead letters selected by reason, time or offset, re-published to the topic
their events came from."""
