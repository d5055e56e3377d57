#!/usr/bin/env bash
# Soak: the pipeline under random faults for as long as you like (kill -9
# of the hub or the connector, graceful restarts, broker outages, the hub's
# database sessions cut or frozen) while a writer changes the department
# table; at the end the subscriber's view must equal the table exactly.
# The same test runs for 40 s in ./ops/test.sh.
#
#   ./ops/soak.sh [--minutes N] [--seed S]    (default 10 minutes)
#
# Exits 0 if the view ended exact; the log names the seed of a failing run
# (repeat it with --seed).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"

MINUTES=10
SEED=""
while (($#)); do
    case $1 in
    --minutes) MINUTES=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    *) echo "usage: $0 [--minutes N] [--seed S]" >&2; exit 2 ;;
    esac
done

./ops/install-deps.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target gridhub gh_integration_tests >/dev/null
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gridhub-soak.XXXXXX")
chmod 755 "$WORK"
trap './ops/pg-cluster.sh stop "$WORK/pg" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
eval "$(./ops/pg-cluster.sh start "$WORK/pg" 2>/dev/null)"
export GH_TEST_PGHOST=$PGHOST GH_TEST_PGPORT=$PGPORT GH_TEST_PGUSER=$PGUSER
export GH_SOAK_SECONDS=$((MINUTES * 60))
if [[ -n "$SEED" ]]; then export GH_SOAK_SEED=$SEED; fi
echo "soak: $MINUTES minutes of random faults (logs in $WORK/tmp if it fails)"
mkdir -p "$WORK/tmp"
rc=0
TMPDIR=$WORK/tmp build/tests/gh_integration_tests --filter 'soak/*' --jobs 1 \
    --verbose >"$WORK/soak.log" 2>&1 || rc=$?
grep -E 'soak:|PASS|FAIL|Assert|Synthesis' "$WORK/soak.log" || true
if ((rc != 0)); then
    cp -r "$WORK/tmp" "${TMPDIR:-/tmp}/gridhub-soak-failed.$$"
    echo "soak: failed; logs in ${TMPDIR:-/tmp}/gridhub-soak-failed.$$" >&2
fi
exit "$rc"
