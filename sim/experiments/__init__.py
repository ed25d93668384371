"""What-if experiments (issue 8): parameter sweeps over a base scenario with replications, run locally or on
Dask, reported as results.csv, summary.md (mean and 95% CI) and plots. Format: docs/experiments.md.

- ``model``: the Experiment file model; ``loader``: reads it and expands the points (validated scenarios);
- ``runner``: one task per (point, seed), the backends, the results files, interrupt and resume;
- ``report``: summary.md and plots; ``stats``: t and Clopper-Pearson intervals (standard library only).
"""
