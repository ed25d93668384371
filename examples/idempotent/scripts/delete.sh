#!/bin/sh
# Good pattern: a delete that finds nothing to delete succeeds (treat "not found" as done).
set -eu
record="/external/databases/$KRATIX_OBJECT_NAMESPACE-$KRATIX_OBJECT_NAME"
rm -f "$record"
echo "database $KRATIX_OBJECT_NAMESPACE/$KRATIX_OBJECT_NAME deleted (or already gone)"
