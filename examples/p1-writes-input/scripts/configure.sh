#!/bin/sh
# BAD (P1): /kratix/input is read-only; copying or editing files there fails. Fix: copy the object to
# /tmp (or /kratix/output) and edit the copy.
set -eu
cp /kratix/input/object.yaml /kratix/input/object.yaml.orig
sed -i 's/size: small/size: large/' /kratix/input/object.yaml
cp /kratix/input/object.yaml /kratix/output/object.yaml
