#!/bin/sh
# BAD (I3): the generated password is pinned in .status only by the *next* container. If the pipeline
# fails in between, the user exists in the external system but the password is lost: the re-run cannot
# rebuild the same Secret. Fix: pin the value before the side effect (write it where a re-run finds it:
# the external system itself, e.g. a secret store), or make the create step return it again.
set -eu
field() {
  awk -v section="$1:" -v key="  $2: " '
    /^[^ ]/ { inside = ($0 == section) }
    inside && index($0, key) == 1 { print substr($0, length(key) + 1); exit }
  ' /kratix/input/object.yaml | tr -d "\"'"
}
if [ ! -d /external ] || [ ! -w /external ]; then
  echo "this example needs a writable directory mounted at /external (a stand-in for the database API)" >&2
  exit 2
fi
mkdir -p /external/users
user="/external/users/$KRATIX_OBJECT_NAMESPACE-$KRATIX_OBJECT_NAME"
password=$(field status password)
if [ -e "$user" ]; then
  if [ -z "$password" ]; then
    echo "user exists but its password is not in .status: lost" >&2
    password=unknown
  fi
else
  password=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
  echo "$password" > "$user"
  echo "user created"
fi
# Handing a value to a later container of the same pod through /kratix/metadata is fine.
printf '%s\n' "$password" > /kratix/metadata/password
