#!/usr/bin/env bash
# The demo: five departments' databases (generated: 乐坪街道, ~40k
# residents, each department's partial, error-laden copy) flow through five
# connectors and the hub to a subscriber's Kafka topic as Avro records, on
# real parts (PostgreSQL, librdkafka's mock cluster as the embedded broker),
# while the generator keeps making live changes.
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

DEPTS=(zongzhi gongan jisheng zuzhi chuangwen)
declare -A DEPT_NAME=([zongzhi]="综治 comprehensive governance" [gongan]="公安 public security"
    [jisheng]="计生 family planning" [zuzhi]="组织部 party building" [chuangwen]="创文 civilization campaign")

step "Starting a throwaway PostgreSQL cluster (wal_level=logical)"
eval "$(./ops/pg-cluster.sh start "$WORK/pg")"
CI_BASE="host=$PGHOST port=$PGPORT user=$PGUSER"
psql -qc "CREATE DATABASE hub"
gen_args=()
for d in "${DEPTS[@]}"; do
    psql -qc "CREATE DATABASE $d"
    gen_args+=(--"$d"-conninfo "$CI_BASE dbname=$d")
done

step "Generating 乐坪街道 (seed 1): one true city, five departments' partial, error-laden copies"
# The generator loads the five databases, then keeps the city alive (births,
# move-ins, moves between grids, deaths, grid events) while the rest runs.
"$GH" gen --preset demo --seed 1 "${gen_args[@]}" --truth-file "$WORK/truth.jsonl" \
    --live-rate 20 --live-duration-s 60 >"$WORK/gen.log" 2>&1 &
GEN_PID=$!
PIDS+=($GEN_PID)
for _ in $(seq 600); do grep -q '^total:' "$WORK/gen.log" && break; sleep 0.1; done
grep -E '^(total|truth):' "$WORK/gen.log" | sed 's/^/  /'

step "Starting the embedded broker"
topics=gridhub.dlq,gridhub.heartbeat,hub.view.demo.person
for d in "${DEPTS[@]}"; do topics+=",gridhub.$d.person"; done
"$GH" broker --bootstrap-file "$WORK/bootstrap" --topics "$topics" \
    >"$WORK/broker.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [[ -s "$WORK/bootstrap" ]] && break; sleep 0.1; done
BS=$(cat "$WORK/bootstrap")
echo "bootstrap.servers=$BS"

step "Starting five connectors, the hub and a subscriber"
person_topics=""
for d in "${DEPTS[@]}"; do
    "$GH" connector -c "connectors/$d/connector.properties" --bootstrap-servers "$BS" \
        --database-conninfo "$CI_BASE dbname=$d" --state-dir "$WORK/state" \
        >"$WORK/connector.$d.log" 2>&1 &
    PIDS+=($!)
    person_topics+="${person_topics:+,}gridhub.$d.person"
done
"$GH" hub --bootstrap-servers "$BS" --database-conninfo "$CI_BASE dbname=hub" \
    --source-topics "$person_topics" --subscribers demo \
    >"$WORK/hub.log" 2>&1 &
PIDS+=($!)
"$GH" tail --bootstrap-servers "$BS" --topic hub.view.demo.person \
    >"$WORK/subscriber.jsonl" 2>"$WORK/tail.log" &
PIDS+=($!)

for d in "${DEPTS[@]}"; do
    for _ in $(seq 600); do grep -q "snapshot done" "$WORK/connector.$d.log" && break; sleep 0.1; done
    printf '  %-30s %s\n' "${DEPT_NAME[$d]}" \
        "$(grep -o 'snapshot done: .*' "$WORK/connector.$d.log" || echo 'snapshot not finished')"
done

# The hub has caught up when every person-mapped source row is applied.
expected=$(wc -l <"$WORK/truth.jsonl")
printf '  hub: applying %s department person records' "$expected"
for _ in $(seq 1800); do
    n=$(psql -tAd hub -c "SELECT count(*) FROM source_person" 2>/dev/null || echo 0)
    ((n >= expected)) && break
    sleep 0.2
done
echo " ... $n applied"
for _ in $(seq 600); do
    (($(psql -tAd hub -c "SELECT count(*) FROM outbox") == 0)) && break
    sleep 0.2
done
psql -d hub -c "SELECT count(*) FILTER (WHERE active) AS residents,
    count(*) FILTER (WHERE active AND jsonb_array_length(sources) > 1) AS \"in several departments\",
    (SELECT count(*) FROM outbox) AS \"outbox backlog\" FROM person"

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

wait_lines 1000
step "A resident known to several departments, as subscriber 'demo' sees them"
pid_many=$(psql -tAd hub -c "SELECT person_id FROM person WHERE active ORDER BY jsonb_array_length(sources) DESC, person_id LIMIT 3" | paste -sd'|')
python3 - "$WORK/subscriber.jsonl" "$pid_many" <<'PY'
import json, sys
want = set(sys.argv[2].split("|"))
last = {}
for l in open(sys.argv[1], encoding="utf-8"):
    m = json.loads(l)
    if m["key"] in want:
        last[m["key"]] = m["value"]
for k, v in last.items():
    src = ", ".join(f"{s['department']}/{s['source_key']}" for s in v["sources"])
    print(f"  {v['person_id']} v{v['version']}  {v['name']}  {v['sex'] or '-'}  id={v['id_number'] or '-'}"
          f"  born={v['birth_date'] or '-'}  grid={v['grid_code'] or '-'}\n      sources: {src}")
PY
seen=$(wc -l <"$WORK/subscriber.jsonl")

step "Live changes keep coming from the generator (20/s); waiting 20 s"
sleep 20
psql -tAd hub -c "SELECT '  hub now: ' || count(*) FILTER (WHERE active) || ' residents, ' || (SELECT count(*) FROM source_person WHERE NOT deleted) || ' department records' FROM person"

step "What the subscriber received meanwhile (last 8 of $(($(wc -l <"$WORK/subscriber.jsonl") - seen)) records)"
lines=$(wc -l <"$WORK/subscriber.jsonl")
show $((lines > seen + 8 ? lines - 8 : seen))

step "Identity resolution: the steward's review queue"
HUBCONF="$WORK/hub.properties"
printf 'bootstrap.servers=%s\ndatabase.conninfo=%s\nsource.topics=%s\nsubscribers=demo\n' \
    "$BS" "$CI_BASE dbname=hub" "$person_topics" >"$HUBCONF"
psql -tAd hub -c "SELECT '  open items: ' || coalesce(string_agg(kind || ' ' || n, ', '), 'none') FROM (SELECT kind, count(*) n FROM steward_item WHERE status = 'open' GROUP BY kind ORDER BY kind) x"
"$GH" steward list --limit 8 -c "$HUBCONF" | sed 's/^/  /'
item=$(psql -tAd hub -c "SELECT item_id FROM steward_item WHERE status = 'open' AND kind = 'possible_duplicate' ORDER BY score DESC LIMIT 1")
if [[ -n "$item" ]]; then
    step "A steward reviews likely duplicate $item (the evidence: each field's weight)"
    "$GH" steward show "$item" -c "$HUBCONF" | sed 's/^/  /'
    echo "  two valid, different ID numbers: two people of the same name and birthday"
    "$GH" steward keep-apart "$item" --by demo-steward \
        --reason "different ID numbers: namesakes born the same day" -c "$HUBCONF" | sed 's/^/  /'
fi
item=$(psql -tAd hub -c "SELECT item_id FROM steward_item WHERE status = 'open' AND kind = 'attribute_conflict' ORDER BY item_id LIMIT 1")
if [[ -n "$item" ]]; then
    step "A steward settles conflict $item: which grid does the resident live in?"
    "$GH" steward show "$item" -c "$HUBCONF" | sed 's/^/  /'
    pid=$(psql -tAd hub -c "SELECT person_a FROM steward_item WHERE item_id = $item")
    grid=$(psql -tAd hub -c "SELECT v->>'value' FROM steward_item, jsonb_array_elements(evidence->'values') v WHERE item_id = $item ORDER BY (v->>'updated_at')::bigint DESC NULLS LAST LIMIT 1")
    seen=$(wc -l <"$WORK/subscriber.jsonl")
    "$GH" steward choose "$item" "$grid" --by demo-steward \
        --reason "visited: lives in $grid" -c "$HUBCONF" | sed 's/^/  /'
    for _ in $(seq 50); do grep -q "\"key\":\"$pid\"" <(tail -n +"$((seen + 1))" "$WORK/subscriber.jsonl") && break; sleep 0.2; done
    echo "  what subscriber 'demo' received for $pid:"
    tail -n +"$((seen + 1))" "$WORK/subscriber.jsonl" >"$WORK/after-choose.jsonl"
    python3 - "$WORK/after-choose.jsonl" "$pid" <<'PY'
import json, sys
pid = sys.argv[2]
for l in open(sys.argv[1], encoding="utf-8"):
    m = json.loads(l)
    if m["key"] != pid or m["value"] is None:
        continue
    v = m["value"]
    src = [p["department"] for p in v["provenance"] if p["field"] == "grid_code"]
    print(f"  {pid} v{v['version']}  {v['name']}  grid={v['grid_code']}  "
          f"(grid_code from: {src[0] if src else '-'})")
PY
fi

step "Delivery state"
for d in "${DEPTS[@]}"; do
    echo "  $d: slot $(psql -tAd "$d" -c "SELECT slot_name || ' confirmed_flush_lsn=' || confirmed_flush_lsn FROM pg_replication_slots WHERE database = '$d'")"
done
echo "  hub: $(psql -tAd hub -c "SELECT count(*) FILTER (WHERE active) || ' active persons, outbox backlog ' || (SELECT count(*) FROM outbox) FROM person")"
echo "  dead letters: $(cat "$WORK"/connector.*.log "$WORK/hub.log" | grep -c 'WARN .*dead letter' || true)"

step "Stopping cleanly"
for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
PIDS=()
echo "done."
