#!/bin/sh
# BAD (P2): `kratix` is Kratix's own key in .status; the status-writer rejects a status.yaml that sets
# it, so the pipeline fails. Fix: use your own top-level key.
set -eu
cat > /kratix/output/app.yaml <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: $KRATIX_OBJECT_NAME-app
  namespace: $KRATIX_OBJECT_NAMESPACE
YAML
cat > /kratix/metadata/status.yaml <<YAML
kratix:
  lastRun: configure
ready: true
YAML
