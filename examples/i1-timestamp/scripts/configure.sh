#!/bin/sh
# BAD (I1, I4): the output carries the time of the run, so every run writes a different Work and the
# state store never settles. Fix: leave the time out, or pin the first value in .status and reuse it.
set -eu
name=$KRATIX_OBJECT_NAME
namespace=$KRATIX_OBJECT_NAMESPACE
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cat > /kratix/output/configmap.yaml <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: $name-config
  namespace: $namespace
data:
  createdAt: "$now"
YAML
echo "configured $namespace/$name at $now"
