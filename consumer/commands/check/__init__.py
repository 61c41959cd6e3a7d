"""``check``: what ``run`` needs, examined without writing anything — the Kafka topics, the
Freshsales key, the names the configuration refers to, and custom fields."""
