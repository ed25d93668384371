#!/bin/sh
# BAD (P5): /kratix/metadata is per pod. A file written there by an earlier Pipeline is never here, so
# this always fails in Kratix. Fix: read the value from .status in /kratix/input/object.yaml.
set -eu
replicas=$(sed -n 's/^REPLICAS=//p' /kratix/metadata/values.env)
cat > /kratix/output/app.yaml <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: $KRATIX_OBJECT_NAME-app
  namespace: $KRATIX_OBJECT_NAMESPACE
data:
  replicas: "$replicas"
YAML
