"""In-memory stand-ins behind the engine's narrow ports: the event source, Freshsales, the
dead-letter topic and the ledger, and the account's standing."""
