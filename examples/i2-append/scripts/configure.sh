#!/bin/sh
# BAD (I2): `>>` appends to metadata files. Re-executed in the same pod (restartPolicy OnFailure keeps
# /kratix/metadata), the selector is written twice: a duplicate directory, which the work-writer rejects
# (P3), and the pipeline fails although one clean run succeeds. Fix: write metadata files with `>`.
set -eu
cat >> /kratix/metadata/destination-selectors.yaml <<YAML
- directory: app
  matchLabels:
    environment: dev
YAML
cat > /kratix/output/app.yaml <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: $KRATIX_OBJECT_NAME-app
  namespace: $KRATIX_OBJECT_NAMESPACE
data:
  replicas: "2"
YAML
echo "replicas: 2" >> /kratix/metadata/status.yaml
