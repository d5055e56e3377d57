#!/usr/bin/env bash
# Connector benchmark: per department, on this machine, prints
#   snapshot rows/s, streaming changes/s, and commit-to-acknowledgement
#   latency p50/p99 at a target change rate.
#
#   ./ops/bench.sh [--preset demo|city] [--scale F] [--rate N] [--seconds S]
#                  [--departments "zongzhi gongan ..."]
#
# Everything is real: a throwaway PostgreSQL cluster, the embedded broker,
# `gridhub gen` data, `gridhub connector` processes, pgbench for load. The
# figures are read from the connector's own log lines ("snapshot done",
# "stopping, totals": see connectors/runtime/driver/connector.c) and from
# PostgreSQL (the slot's confirmed_flush_lsn).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"

PRESET=demo SCALE=1 RATE=10000 SECONDS_=20
DEPTS="zongzhi gongan jisheng zuzhi chuangwen"
while (($#)); do
    case $1 in
    --preset) PRESET=$2; shift 2 ;;
    --scale) SCALE=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --seconds) SECONDS_=$2; shift 2 ;;
    --departments) DEPTS=$2; shift 2 ;;
    *) echo "usage: $0 [--preset demo|city] [--scale F] [--rate N] [--seconds S] [--departments LIST]" >&2; exit 2 ;;
    esac
done

# shellcheck source=ops/lib/bench-setup.sh
. ops/lib/bench-setup.sh
bench_setup gridhub-bench
PGBENCH=$(ls /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -1)
proc_start broker "$WORK/broker.log" "$WORK/broker.log" \
    "$GH" broker --bootstrap-file "$WORK/bootstrap"
for _ in $(seq 100); do [[ -s "$WORK/bootstrap" ]] && break; sleep 0.1; done
BS=$(cat "$WORK/bootstrap")

gen_args=()
for d in zongzhi gongan jisheng zuzhi chuangwen; do
    psql -qc "CREATE DATABASE $d"
    gen_args+=(--"$d"-conninfo "host=$PGHOST port=$PGPORT user=$PGUSER dbname=$d")
done
echo "generating the $PRESET preset (scale $SCALE)..." >&2
"$GH" gen --preset "$PRESET" --scale "$SCALE" --seed 1 --truth-file "$WORK/truth.jsonl" \
    "${gen_args[@]}" >"$WORK/gen.log" 2>&1

confirmed_lsn() { psql -tAd "$1" -c "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'bench_$1'"; }
lsn_ge() { [[ $(psql -tAc "SELECT '$1'::pg_lsn >= '$2'::pg_lsn") == t ]]; }

start_connector() { # dept logfile
    proc_start "connector.$1" "$2" "$2" \
        "$GH" connector -c "connectors/$1/connector.properties" --bootstrap-servers "$BS" \
        --database-conninfo "host=$PGHOST port=$PGPORT user=$PGUSER dbname=$1" \
        --state-dir "$WORK/state" --slot-name "bench_$1" --publication-name "bench_$1" \
        --topic-prefix bench --stats-interval-ms 3600000 --heartbeat-interval-ms 200
}

stop_connector() { # dept
    proc_stop "connector.$1"
}

wait_confirmed() { # dept lsn
    for _ in $(seq 1200); do
        local c
        c=$(confirmed_lsn "$1")
        [[ -n "$c" ]] && lsn_ge "$c" "$2" && return 0
        sleep 0.05
    done
    echo "bench: $1 did not confirm $2 in time" >&2
    return 1
}

printf '\n%-10s %12s %14s %14s %16s %9s %9s\n' department "rows" "snapshot/s" "changes" "streaming/s" "p50 ms" "p99 ms"
for d in $DEPTS; do
    # The table with the most rows carries the streaming load.
    read -r table pk rows < <(psql -tAd "$d" -F' ' -c "
        SELECT c.relname, a.attname, c.reltuples::bigint
        FROM pg_class c JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
        JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
        WHERE c.relkind = 'r' ORDER BY c.reltuples DESC LIMIT 1")
    psql -qd "$d" -c "ANALYZE" -c "CREATE TABLE bench_keys AS SELECT row_number() OVER () AS i, $pk AS k FROM $table" \
        -c "CREATE INDEX ON bench_keys (i)"
    nkeys=$(psql -tAd "$d" -c "SELECT count(*) FROM bench_keys")

    # 1. Snapshot.
    start_connector "$d" "$WORK/$d.snapshot.log"
    for _ in $(seq 6000); do grep -q "snapshot done" "$WORK/$d.snapshot.log" && break; sleep 0.05; done
    snap_line=$(grep "snapshot done" "$WORK/$d.snapshot.log")
    snap_rows=$(sed -E 's/.*done: ([0-9]+) rows.*/\1/' <<<"$snap_line")
    snap_rate=$(sed -E 's/.*\(([0-9]+) rows\/s\).*/\1/' <<<"$snap_line")

    # 2. Streaming throughput: one transaction of at least 200k row changes
    #    (the largest table updated as many times as needed), timed from its
    #    commit to the Kafka-acknowledged confirm of its end.
    rounds=$(((200000 + nkeys - 1) / nkeys))
    # Timed from the commit: pgoutput sends a transaction only once it
    # committed, so this is the connector's throughput on a backlog, not
    # the time PostgreSQL took to make the changes.
    psql -qd "$d" -c "DO \$\$ BEGIN FOR i IN 1..$rounds LOOP UPDATE $table SET $pk = $pk; END LOOP; END \$\$"
    t0=$(date +%s.%N)
    lsn=$(psql -tAd "$d" -c "SELECT pg_current_wal_lsn()")
    wait_confirmed "$d" "$lsn"
    t1=$(date +%s.%N)
    changes=$((nkeys * rounds))
    stream_rate=$(awk -v n="$changes" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
    stop_connector "$d"

    # 3. Latency at the target rate: transactions of 10 row changes each,
    #    RATE/10 per second, on a fresh connector run (so its totals line
    #    covers exactly this phase).
    start_connector "$d" "$WORK/$d.latency.log"
    for _ in $(seq 600); do grep -q "streaming" "$WORK/$d.latency.log" && break; sleep 0.05; done
    # One committed change first, so the measured run starts warm.
    psql -qd "$d" -c "UPDATE $table SET $pk = $pk WHERE $pk = (SELECT k FROM bench_keys WHERE i = 1)"
    wait_confirmed "$d" "$(psql -tAd "$d" -c "SELECT pg_current_wal_lsn()")"
    cat >"$WORK/$d.pgbench.sql" <<EOF
\\set a random(1, $((nkeys > 10 ? nkeys - 10 : 1)))
UPDATE $table SET $pk = $pk WHERE $pk IN (SELECT k FROM bench_keys WHERE i BETWEEN :a AND :a + 9);
EOF
    "$PGBENCH" -n -d "$d" -f "$WORK/$d.pgbench.sql" -R $((RATE / 10)) -T "$SECONDS_" -c 4 -j 2 \
        >"$WORK/$d.pgbench.log" 2>&1 || true
    lsn=$(psql -tAd "$d" -c "SELECT pg_current_wal_lsn()")
    wait_confirmed "$d" "$lsn"
    stop_connector "$d"
    tot=$(grep "stopping, totals" "$WORK/$d.latency.log")
    p50=$(sed -E 's/.*p50_ms=([0-9.]+).*/\1/' <<<"$tot")
    p99=$(sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$tot")
    tps=$(grep -oE 'tps = [0-9.]+' "$WORK/$d.pgbench.log" | head -1 | awk '{printf "%.0f", $3 * 10}')
    printf '%-10s %12s %14s %14s %16s %9s %9s   (latency at %s changes/s achieved)\n' \
        "$d" "$snap_rows" "$snap_rate" "$changes" "$stream_rate" "$p50" "$p99" "$tps"
done
echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
