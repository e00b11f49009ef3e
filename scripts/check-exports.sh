#!/bin/sh
# Fails if the shared library exports a dynamic symbol that does not start with keel_.
set -eu
bad=$(nm -D --defined-only "$1" | awk '{print $3}' | grep -v '^keel_' | grep -v '^_' || true)
if [ -n "$bad" ]; then
  echo "symbols exported without the keel_ prefix:" >&2
  echo "$bad" >&2
  exit 1
fi
echo "exports ok: $(nm -D --defined-only "$1" | grep -c ' keel_') keel_ symbols"
