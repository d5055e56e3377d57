#!/usr/bin/env bash
# The demo: five departments' databases (generated: 乐坪街道, ~40k
# residents, each department's partial, error-laden copy) flow through five
# connectors and the hub to a subscriber's Kafka topic as Avro records, on
# real parts (PostgreSQL, librdkafka's mock cluster as the embedded broker),
# while the generator keeps making live changes.
#
#   ./ops/demo.sh            install what is missing, build, run, clean up
#   GH_DEMO_KEEP=1 ./ops/demo.sh   keep the work directory (logs) afterwards
#   GH_DEMO_TIMEOUT=900      the watchdog: after this many seconds the demo
#                            says where it was stuck, shows the logs' ends
#                            and exits 1 instead of hanging
#
# Exits 0 when every step worked and every process stopped cleanly (in
# dependency order: generator, connectors, hub, subscriber, broker, then
# PostgreSQL), 1 otherwise, naming what failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"
# shellcheck source=ops/lib/procs.sh
source ops/lib/procs.sh

CURRENT_STEP="starting"
step() {
    CURRENT_STEP=$*
    printf '\n\033[1m== %s\033[0m\n' "$*"
}

# fail MESSAGE [LOG]: says what did not happen and shows the end of LOG.
fail() {
    echo "demo: $1" >&2
    if [[ -n "${2:-}" ]]; then
        echo "demo: the end of $2:" >&2
        tail -n 15 "$2" 2>/dev/null | sed 's/^/    /' >&2
    fi
    exit 1
}

# wait_until SECONDS WHAT LOG CMD...: polls CMD every 0.2 s; fails naming
# WHAT and showing LOG if it is not true within SECONDS.
wait_until() {
    local secs=$1 what=$2 log=$3 i
    shift 3
    for ((i = 0; i < secs * 5; i++)); do
        if "$@"; then return 0; fi
        sleep 0.2
    done
    fail "$what did not happen within $secs s" "$log"
}

step "Installing missing packages"
./ops/install-deps.sh

step "Building"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
make -C build -j"$(nproc)" gridhub 2>&1 | grep -E 'error|warning|Built target gridhub' || true
GH="$ROOT/build/gridhub"
[[ -x "$GH" ]] || { echo "demo: build failed" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gridhub-demo.XXXXXX")
chmod 755 "$WORK" # the PostgreSQL server user must reach its data directory
PROC_PIDFILE=$WORK/pids
: >"$PROC_PIDFILE"
PG_STARTED=0
WATCHDOG=""

cleanup() {
    local rc=$?
    trap - USR1
    if [[ -n "$WATCHDOG" ]]; then kill "$WATCHDOG" 2>/dev/null || true; fi
    proc_stop_all || rc=1
    if ((PG_STARTED)); then
        ./ops/pg-cluster.sh stop "$WORK/pg" >/dev/null 2>&1 || true
    fi
    if [[ -n "${GH_DEMO_KEEP:-}" || $rc -ne 0 ]]; then
        echo "demo: logs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT

# The watchdog: a demo must return by itself. When the time is up it ends
# whatever the script waits on in the foreground (never the components:
# cleanup stops those, in order) and the USR1 trap reports and exits 1.
DEMO_TIMEOUT=${GH_DEMO_TIMEOUT:-900}
on_watchdog() {
    trap - USR1
    echo >&2
    echo "demo: watchdog: no end after $DEMO_TIMEOUT s, stuck in step \"$CURRENT_STEP\"" >&2
    proc_report
    exit 1
}
trap on_watchdog USR1
(
    for ((i = 0; i < DEMO_TIMEOUT; i++)); do
        sleep 1
        kill -0 $$ 2>/dev/null || exit 0
    done
    kill -USR1 $$ 2>/dev/null || exit 0
    for c in $(pgrep -P $$ || true); do
        [[ "$c" == "$BASHPID" ]] && continue
        grep -qx "$c" "$PROC_PIDFILE" || kill -TERM "$c" 2>/dev/null || true
    done
) >/dev/null 2>&1 &
WATCHDOG=$!

DEPTS=(zongzhi gongan jisheng zuzhi chuangwen)
declare -A DEPT_NAME=([zongzhi]="综治 comprehensive governance" [gongan]="公安 public security"
    [jisheng]="计生 family planning" [zuzhi]="组织部 party building" [chuangwen]="创文 civilization campaign")

step "Starting a throwaway PostgreSQL cluster (wal_level=logical)"
eval "$(./ops/pg-cluster.sh start "$WORK/pg")"
PG_STARTED=1
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
proc_start gen "$WORK/gen.log" "$WORK/gen.log" \
    "$GH" gen --preset demo --seed 1 "${gen_args[@]}" --truth-file "$WORK/truth.jsonl" \
    --live-rate 20 --live-duration-s 60
wait_until 120 "the generator's load" "$WORK/gen.log" grep -q '^total:' "$WORK/gen.log"
grep -E '^(total|truth):' "$WORK/gen.log" | sed 's/^/  /'

step "Starting the embedded broker"
topics=gridhub.dlq,gridhub.heartbeat,hub.view.demo.person
for d in "${DEPTS[@]}"; do topics+=",gridhub.$d.person"; done
# Every long-running component serves /metrics and /health on a free port
# (port 0) and writes its URL to $WORK/metrics.<name>: `gridhub status`
# reads them in the "Delivery state" step.
proc_start broker "$WORK/broker.log" "$WORK/broker.log" \
    "$GH" broker --bootstrap-file "$WORK/bootstrap" --topics "$topics" \
    --metrics-listen 127.0.0.1:0 --metrics-listen-file "$WORK/metrics.broker"
wait_until 20 "the broker's start" "$WORK/broker.log" test -s "$WORK/bootstrap"
BS=$(cat "$WORK/bootstrap")
echo "bootstrap.servers=$BS"

step "Starting five connectors, the hub and a subscriber"
person_topics=""
for d in "${DEPTS[@]}"; do
    proc_start "connector.$d" "$WORK/connector.$d.log" "$WORK/connector.$d.log" \
        "$GH" connector -c "connectors/$d/connector.properties" --bootstrap-servers "$BS" \
        --database-conninfo "$CI_BASE dbname=$d" --state-dir "$WORK/state" \
        --metrics-listen 127.0.0.1:0 --metrics-listen-file "$WORK/metrics.$d"
    person_topics+="${person_topics:+,}gridhub.$d.person"
done
proc_start hub "$WORK/hub.log" "$WORK/hub.log" \
    "$GH" hub --bootstrap-servers "$BS" --database-conninfo "$CI_BASE dbname=hub" \
    --source-topics "$person_topics" --subscribers demo \
    --metrics-listen 127.0.0.1:0 --metrics-listen-file "$WORK/metrics.hub"
proc_start subscriber "$WORK/subscriber.jsonl" "$WORK/tail.log" \
    "$GH" tail --bootstrap-servers "$BS" --topic hub.view.demo.person \
    --metrics-listen 127.0.0.1:0 --metrics-listen-file "$WORK/metrics.subscriber"
endpoints="broker=@$WORK/metrics.broker"
for d in "${DEPTS[@]}"; do endpoints+=",$d=@$WORK/metrics.$d"; done
endpoints+=",hub=@$WORK/metrics.hub,subscriber=@$WORK/metrics.subscriber"
wait_until 20 "the hub's metrics endpoint" "$WORK/hub.log" test -s "$WORK/metrics.hub"
echo "  metrics: $(cat "$WORK/metrics.hub")/metrics (hub), and one endpoint per component ($WORK/metrics.*)"

for d in "${DEPTS[@]}"; do
    wait_until 120 "the $d connector's snapshot" "$WORK/connector.$d.log" \
        grep -q "snapshot done" "$WORK/connector.$d.log"
    printf '  %-30s %s\n' "${DEPT_NAME[$d]}" "$(grep -o 'snapshot done: .*' "$WORK/connector.$d.log")"
done

# The hub has caught up when every person-mapped source row is applied.
expected=$(wc -l <"$WORK/truth.jsonl")
printf '  hub: applying %s department person records' "$expected"
applied() {
    n=$(psql -tAd hub -c "SELECT count(*) FROM source_person" 2>/dev/null || echo 0)
    ((n >= expected))
}
wait_until 600 "the hub's catching up with $expected records" "$WORK/hub.log" applied
echo " ... $n applied"
outbox_empty() { (($(psql -tAd hub -c "SELECT count(*) FROM outbox") == 0)); }
wait_until 120 "the hub's publishing its outbox" "$WORK/hub.log" outbox_empty
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
has_lines() { (($(wc -l <"$WORK/subscriber.jsonl") >= $1)); }
wait_lines() {
    wait_until 60 "the subscriber's receiving $1 records" "$WORK/tail.log" has_lines "$1"
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
echo "  gridhub status (each component's /health, and the hub database):"
"$GH" status --endpoints "$endpoints" --database-conninfo "$CI_BASE dbname=hub" \
    >"$WORK/status.txt" || status_rc=$?
sed 's/^/    /' "$WORK/status.txt"
((${status_rc:-0} == 0)) || fail "gridhub status: a component is not up and running" "$WORK/status.txt"
for d in "${DEPTS[@]}"; do
    echo "  $d: slot $(psql -tAd "$d" -c "SELECT slot_name || ' confirmed_flush_lsn=' || confirmed_flush_lsn FROM pg_replication_slots WHERE database = '$d'")"
done
echo "  hub: $(psql -tAd hub -c "SELECT count(*) FILTER (WHERE active) || ' active persons, outbox backlog ' || (SELECT count(*) FROM outbox) FROM person")"
echo "  dead letters: $(cat "$WORK"/connector.*.log "$WORK/hub.log" | grep -c 'WARN .*dead letter' || true)"

step "Stopping cleanly: generator, connectors, hub, subscriber, broker, PostgreSQL"
t0=$SECONDS
stopped=()
proc_stop_all || fail "a process had to be killed (see above)"
bad=0
for name in gen connector.zongzhi connector.gongan connector.jisheng connector.zuzhi connector.chuangwen hub subscriber broker; do
    rc=${PROC_STATUS[$name]:-?}
    stopped+=("$name $rc")
    [[ "$rc" == 0 ]] || bad=1
done
(IFS=','; echo "  exit status: ${stopped[*]}" | sed 's/,/, /g')
./ops/pg-cluster.sh stop "$WORK/pg" >/dev/null 2>&1
PG_STARTED=0
echo "  PostgreSQL stopped; everything stopped in $((SECONDS - t0)) s"
((bad == 0)) || fail "a process did not exit 0 (exit codes: gridhub <command> --help)"
echo "done."
