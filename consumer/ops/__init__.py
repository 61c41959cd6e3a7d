"""Operations: Prometheus metrics, the ``/metrics``, ``/healthz`` and ``/readyz`` server, probe
answers and the periodic quota log line, all read from the running service."""
