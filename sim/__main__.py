"""``python -m sim`` is ``kratix-sim``."""

from sim.cli import entry

entry()
