"""What the engine remembers between events to spend fewer calls: the upserts delivered
unchanged, and the delivered messageIds. (Who people are: ``consumer.identity``.)"""
