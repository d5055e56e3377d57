#!/usr/bin/env bash
# Audit log benchmark: on this machine, prints the rate of serializing and
# hashing entries into the Merkle tree alone, of appending them through
# PostgreSQL in batches (one transaction each, as the hub's batches are),
# the time of `gridhub audit verify` over all of them, and the tables' size.
#
#   ./ops/bench-audit.sh [--entries N] [--batch B]     (1,000,000; 20,000)
#
# Everything is real: a throwaway PostgreSQL cluster (ops/pg-cluster.sh), a
# scratch hub database, `gridhub audit bench`
# (hub/cli/security/cmd_audit_bench.c).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"

ENTRIES=1000000 BATCH=20000
while (($#)); do
    case $1 in
    --entries) ENTRIES=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    *) echo "usage: $0 [--entries N] [--batch B]" >&2; exit 2 ;;
    esac
done

# shellcheck source=ops/lib/bench-setup.sh
. ops/lib/bench-setup.sh
bench_setup gridhub-bench-audit
createdb audit_bench
"$GH" audit keygen --key "$WORK/audit.key" --public-key "$WORK/audit.pub" >/dev/null
echo "== audit log, $ENTRIES entries, $(nproc) cores, $(date -u +%Y-%m-%d)"
"$GH" audit bench --entries "$ENTRIES" --batch "$BATCH" --key "$WORK/audit.key" \
    --public-key "$WORK/audit.pub" \
    --database-conninfo "host=$PGHOST port=$PGPORT user=$PGUSER dbname=audit_bench"
