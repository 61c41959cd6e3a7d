"""Who an event is about: the identity map (every person the deployment has delivered, by every
identity it knows them under), the events of people not known yet that wait for them, and the
locks that keep a person's writes apart. Pure state and decisions; Kafka keeps them
(``consumer.kafka.identities``, ``consumer.kafka.waiting``)."""
