"""Kafka: the aiokafka adapter of the engine's event-source port, the one boundary where
aiokafka's errors become ours, dead letters, the ledger of delivered activities, configuration."""
