#!/bin/sh
# BAD (I6): deleting something already deleted fails. A delete retried after a partial delete (or run
# twice) fails for ever, and the object stays stuck in deletion (D4). Fix: `rm -f`, or treat 404 as done.
set -eu
rm "/external/queues/$KRATIX_OBJECT_NAMESPACE-$KRATIX_OBJECT_NAME"
echo "queue deleted"
