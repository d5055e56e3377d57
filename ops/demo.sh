#!/usr/bin/env bash
# The demo: a change committed in the 综治 (comprehensive governance)
# database reaches a subscriber's Kafka topic as an Avro record, through the
# connector and the hub, on real parts (PostgreSQL, librdkafka's mock
# cluster as the embedded broker).
#
#   ./ops/demo.sh            install what is missing, build, run, clean up
#   GH_DEMO_KEEP=1 ./ops/demo.sh   keep the work directory (logs) afterwards
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Installing missing packages"
./ops/install-deps.sh

step "Building"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
make -C build -j"$(nproc)" gridhub 2>&1 | grep -E 'error|warning|Built target gridhub' || true
GH="$ROOT/build/gridhub"
[[ -x "$GH" ]] || { echo "demo: build failed" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gridhub-demo.XXXXXX")
chmod 755 "$WORK" # the PostgreSQL server user must reach its data directory
PIDS=()
cleanup() {
    local rc=$?
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    ./ops/pg-cluster.sh stop "$WORK/pg" >/dev/null 2>&1 || true
    if [[ -n "${GH_DEMO_KEEP:-}" || $rc -ne 0 ]]; then
        echo "demo: logs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

step "Starting a throwaway PostgreSQL cluster (wal_level=logical)"
eval "$(./ops/pg-cluster.sh start "$WORK/pg")"
psql -qc "CREATE DATABASE zongzhi" -c "CREATE DATABASE hub"
psql -q -d zongzhi -f connectors/zongzhi/schema.sql -f connectors/zongzhi/sample.sql
echo "综治 database 'zongzhi' on $PGHOST:$PGPORT with $(psql -tAd zongzhi -c 'SELECT count(*) FROM zz_syrk') residents"

step "Starting the embedded broker"
"$GH" broker --bootstrap-file "$WORK/bootstrap" \
    --topics gridhub.zongzhi.person,hub.view.demo.person,gridhub.dlq,gridhub.heartbeat \
    >"$WORK/broker.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [[ -s "$WORK/bootstrap" ]] && break; sleep 0.1; done
BS=$(cat "$WORK/bootstrap")
echo "bootstrap.servers=$BS"

step "Starting the 综治 connector, the hub and a subscriber"
"$GH" connector -c connectors/zongzhi/connector.properties \
    --bootstrap-servers "$BS" \
    --database-conninfo "host=$PGHOST port=$PGPORT user=$PGUSER dbname=zongzhi" \
    --state-dir "$WORK/state" >"$WORK/connector.log" 2>&1 &
PIDS+=($!)
"$GH" hub --bootstrap-servers "$BS" \
    --database-conninfo "host=$PGHOST port=$PGPORT user=$PGUSER dbname=hub" \
    --source-topics gridhub.zongzhi.person --subscribers demo \
    --batch-max-ms 50 >"$WORK/hub.log" 2>&1 &
PIDS+=($!)
"$GH" tail --bootstrap-servers "$BS" --topic hub.view.demo.person \
    >"$WORK/subscriber.jsonl" 2>"$WORK/tail.log" &
PIDS+=($!)

# Prints the subscriber's records from line $1 on, one per line.
show() {
    python3 - "$WORK/subscriber.jsonl" "$1" <<'PY'
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()[int(sys.argv[2]):]
for l in lines:
    m = json.loads(l)
    v = m.get("value")
    if v is None:
        print(f"  {m['key']}  (tombstone: resident no longer in any department)")
        continue
    src = ",".join(f"{s['department']}/{s['source_key']}" for s in v["sources"])
    print(f"  {v['person_id']} v{v['version']}  {v['name']}  {v['sex'] or '-'}  "
          f"id={v['id_number'] or '-'}  born={v['birth_date'] or '-'}  "
          f"phone={v['phone'] or '-'}  grid={v['grid_code'] or '-'}  [{src}]")
PY
}

# Waits until the subscriber has at least $1 lines (up to 60 s).
wait_lines() {
    for _ in $(seq 600); do
        (($(wc -l <"$WORK/subscriber.jsonl") >= $1)) && return 0
        sleep 0.1
    done
    echo "demo: the subscriber did not receive $1 records in time; logs in $WORK" >&2
    tail -n 5 "$WORK"/*.log >&2
    return 1
}

wait_lines 5
step "Subscriber 'demo' received the initial snapshot (hub.view.demo.person, decoded from Avro)"
show 0
seen=$(wc -l <"$WORK/subscriber.jsonl")

step "Live changes in the 综治 database"
sql() { echo "  zongzhi=# $1"; psql -qd zongzhi -c "$1"; }
sql "INSERT INTO zz_syrk (rkbh, xm, gmsfhm, xb, csrq, lxdh, jzdz, wgbm) VALUES ('ZZ0006', '周敏', '４３１３０２ １９９５０６０６００４５', '2', '1995-06-06', '13807381006', '娄星区乐坪街道大塘社区5栋501', 'LP-DT-03')"
sql "UPDATE zz_syrk SET lxdh = '13911112222', gxsj = now() WHERE rkbh = 'ZZ0001'"
sql "UPDATE zz_syrk SET wgbm = 'LP-TJ-02', jzdz = '娄星区乐坪街道童家社区6栋602', gxsj = now() WHERE rkbh = 'ZZ0003'"
sql "DELETE FROM zz_syrk WHERE rkbh = 'ZZ0005'"
wait_lines $((seen + 4))
sleep 1

step "What the subscriber received for those changes"
show "$seen"

step "Delivery state"
echo "  replication slot: $(psql -tAd zongzhi -c "SELECT slot_name || ' confirmed_flush_lsn=' || confirmed_flush_lsn FROM pg_replication_slots")"
echo "  hub: $(psql -tAd hub -c "SELECT count(*) FILTER (WHERE active) || ' active persons, outbox backlog ' || (SELECT count(*) FROM outbox) FROM person")"
echo "  dead letters: $(grep -c 'dead letter' "$WORK/connector.log" "$WORK/hub.log" | awk -F: '{s+=$2} END {print s+0}')"

step "Stopping cleanly"
for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
PIDS=()
echo "done."
