"""What the engine remembers between events: the identity cache, the upserts delivered
unchanged, and the delivered messageIds."""
