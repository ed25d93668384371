"""Judge a real Kratix installation: read what kubectl (or the Kubernetes API) shows of Jobs, pods, Events and
Kratix objects, turn it into a ``kratix-sim-trace/v1`` trace (with an ``evidence`` header saying what the
cluster no longer shows), and write kubectl-shaped exports of simulated traces. See docs/cluster-import.md.
"""
