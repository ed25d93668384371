"""How a container "runs": the modelled executor (durations and exit codes) for pure simulation, and the real
executors (``process``: a bubblewrap sandbox; ``container``: docker or podman) that run a Pipeline's containers
under Kratix's contract (``contract.run_pipeline``)."""
