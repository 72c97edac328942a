#!/bin/sh
# The project's test: add must add.
. ./calc.sh
got=$(add 2 3)
if [ "$got" != 5 ]; then
  echo "FAIL: add 2 3 gave $got, want 5"
  exit 1
fi
echo "ok: add 2 3 gave 5"
