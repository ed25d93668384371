"""How a container "runs": the modelled executor (durations and exit codes) for pure simulation; real
executors (process sandbox, OCI containers) come with the idempotency issue."""
