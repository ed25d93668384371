#!/bin/sh
# BAD (I4, I1): a random bucket name on every run ($RANDOM, uuidgen or /dev/urandom alike): each run
# creates a different bucket. Fix: derive the name (a hash of namespace/name), or generate it once and
# read it back from .status.
set -eu
suffix=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
bucket="$KRATIX_OBJECT_NAME-$suffix"
cat > /kratix/output/bucket.yaml <<YAML
apiVersion: s3.example.io/v1
kind: Bucket
metadata:
  name: $bucket
  namespace: $KRATIX_OBJECT_NAMESPACE
YAML
cat > /kratix/metadata/status.yaml <<YAML
bucketName: $bucket
YAML
