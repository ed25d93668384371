#!/bin/sh
set -eu
password=$(cat /kratix/metadata/password)
cat > /kratix/output/secret.yaml <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: $KRATIX_OBJECT_NAME-credentials
  namespace: $KRATIX_OBJECT_NAMESPACE
stringData:
  password: "$password"
YAML
cat > /kratix/metadata/status.yaml <<YAML
password: "$password"
YAML
