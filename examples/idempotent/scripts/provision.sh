#!/bin/sh
# Good pattern: describe before create. /external stands for the outside world (a cloud API); the
# harness mounts a directory there that outlives the pod.
set -eu
external=/external/databases
if [ ! -d /external ] || [ ! -w /external ]; then
  echo "this example needs a writable directory mounted at /external (a stand-in for the cloud API)" >&2
  exit 2
fi
mkdir -p "$external"
record="$external/$KRATIX_OBJECT_NAMESPACE-$KRATIX_OBJECT_NAME"
if [ -e "$record" ]; then
  echo "database $KRATIX_OBJECT_NAMESPACE/$KRATIX_OBJECT_NAME already exists: nothing to do"
else
  # Write then rename: a kill half-way never leaves a half-created record.
  echo "created-by: $KRATIX_PROMISE_NAME" > "$record.tmp"
  mv "$record.tmp" "$record"
  echo "database $KRATIX_OBJECT_NAMESPACE/$KRATIX_OBJECT_NAME created"
fi
