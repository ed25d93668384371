#!/bin/sh
# Runs after provision.sh. Good patterns: everything is derived from the request (no clock, no randomness), files are written with
# `>` (never `>>`), so a re-run or an in-place retry writes exactly the same thing.
set -eu

# field SECTION KEY: a scalar directly under a top-level SECTION of object.yaml
field() {
  awk -v section="$1:" -v key="  $2: " '
    /^[^ ]/ { inside = ($0 == section) }
    inside && index($0, key) == 1 { print substr($0, length(key) + 1); exit }
  ' /kratix/input/object.yaml | tr -d "\"'"
}

name=$KRATIX_OBJECT_NAME
namespace=$KRATIX_OBJECT_NAMESPACE
size=$(field spec size)
size=${size:-small}
# A stable identifier: a hash of the object's identity, not $RANDOM or uuidgen.
id=$(printf '%s/%s' "$namespace" "$name" | md5sum | cut -c1-12)

cat > /kratix/output/database.yaml <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: $name-database
  namespace: $namespace
data:
  size: $size
  instanceId: db-$id
  endpoint: db-$id.databases.example.internal
YAML

cat > /kratix/metadata/destination-selectors.yaml <<YAML
- matchLabels:
    environment: dev
YAML

cat > /kratix/metadata/status.yaml <<YAML
instanceId: db-$id
endpoint: db-$id.databases.example.internal
size: $size
provisioned: true
YAML
echo "configured database $namespace/$name ($size)"
