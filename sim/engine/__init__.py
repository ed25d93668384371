"""The reference engine: Kratix's reconcile logic as observe -> decide (pure) -> act."""
