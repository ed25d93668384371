"""Idempotency and contract checks of a Promise's own pipelines (reference section 8: I1-I6, P1-P6).

- ``matrix``: the perturbation matrix, real runs through a real executor (``kratix-sim idempotency``);
- ``diff``: the semantic YAML diff its findings are made of;
- ``lint``: the static lint of the pipeline scripts;
- ``findings``: the findings both produce.
"""
