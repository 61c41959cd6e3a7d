"""The console script's commands: ``run``, ``check``, ``dlq`` and the ``translate`` dry run."""
