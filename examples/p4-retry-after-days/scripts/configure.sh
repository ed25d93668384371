#!/bin/sh
# BAD (P4): retryAfter is a Go duration: 30s, 5m, 1h30m; `1d` is not one (the docs once showed it), so the
# pipeline fails instead of retrying. Fix: 24h.
set -eu
cat > /kratix/metadata/workflow-control.yaml <<YAML
retryAfter: 1d
message: waiting for the nightly window
YAML
