#!/bin/sh
set -eu
if [ ! -d /external ] || [ ! -w /external ]; then
  echo "this example needs a writable directory mounted at /external (a stand-in for the queue API)" >&2
  exit 2
fi
mkdir -p /external/queues
queue="/external/queues/$KRATIX_OBJECT_NAMESPACE-$KRATIX_OBJECT_NAME"
[ -e "$queue" ] || echo "queue" > "$queue"
cat > /kratix/output/queue.yaml <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: $KRATIX_OBJECT_NAME-queue
  namespace: $KRATIX_OBJECT_NAMESPACE
YAML
