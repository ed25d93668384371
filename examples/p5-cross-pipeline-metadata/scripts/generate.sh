#!/bin/sh
set -eu
echo "REPLICAS=3" > /kratix/metadata/values.env
# The right way to hand a value to a later Pipeline: the object's status (read back from object.yaml).
cat > /kratix/metadata/status.yaml <<YAML
replicas: 3
YAML
