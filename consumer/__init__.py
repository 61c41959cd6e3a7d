"""The Freshsales destination service: Kafka in, Freshsales out. See README.md."""

__version__ = "0.1.0"
