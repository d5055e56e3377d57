#!/usr/bin/env bash
# The demo: five departments' databases (generated: 乐坪街道, ~40k
# residents, each department's partial, error-laden copy) flow through five
# connectors and the hub to four subscribers' Kafka topics as Avro records,
# each cut to what the city's access policy (ops/policy/city.policy) allows
# that subscriber, on real parts (PostgreSQL, librdkafka's mock cluster as
# the embedded broker), while the generator keeps making live changes.
#
#   ./ops/demo.sh            install what is missing, build, run, clean up
#   GH_DEMO_KEEP=1 ./ops/demo.sh   keep the work directory (logs) afterwards
#   GH_DEMO_TIMEOUT=900      the watchdog: after this many seconds the demo
#                            says where it was stuck, shows the logs' ends
#                            and exits 1 instead of hanging
#
# Exits 0 when every step worked and every process stopped cleanly (in
# dependency order: generator, connectors, hub, subscribers, broker, then
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
    # Bounded by the clock, not by tries: a check may itself take seconds.
    local secs=$1 what=$2 log=$3 end=$((SECONDS + $1))
    shift 3
    while ((SECONDS < end)); do
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

SUBS=(gongan chuangwen jisheng zongzhi)
step "The city's access policy: who receives which residents and fields (ops/policy/city.policy)"
POLICY=$WORK/city.policy
KEYS=$WORK/city.keys
cp ops/policy/city.policy "$POLICY"
"$GH" policy keys --generate "$KEYS" --policy "$POLICY" | sed 's/^/  /'
"$GH" policy check "$POLICY" --keys "$KEYS" | sed 's/^/  /'
"$GH" audit keygen --key "$WORK/audit.key" --public-key "$WORK/audit.pub" | sed 's/^/  audit log signing key: /'
"$GH" keys generate --crypt-key-file "$WORK/hub.keys" | sed 's/^/  encryption at rest: /'
echo "  family planning's rules, as 'gridhub policy explain' tells them:"
"$GH" policy explain "$POLICY" --subscriber jisheng --entity person | sed 's/^/    /'

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
# move-ins, moves between grids, deaths, grid events) while the rest runs,
# for six minutes at most: past the steps that show live changes (the hub
# catches up in ~3), short of a policy check of every message that would
# take minutes longer. The demo stops it before that check.
proc_start gen "$WORK/gen.log" "$WORK/gen.log" \
    "$GH" gen --preset demo --seed 1 "${gen_args[@]}" --truth-file "$WORK/truth.jsonl" \
    --live-rate 20 --live-duration-s 360
wait_until 120 "the generator's load" "$WORK/gen.log" grep -q '^total:' "$WORK/gen.log"
grep -E '^(total|truth):' "$WORK/gen.log" | sed 's/^/  /'

step "Starting the embedded broker"
topics=gridhub.dlq,gridhub.heartbeat
for s in "${SUBS[@]}"; do topics+=",hub.view.$s.person,hub.view.$s.grid,hub.view.$s.event"; done
# shellcheck source=ops/lib/topics.sh
. ops/lib/topics.sh
for d in "${DEPTS[@]}"; do topics+=",$(dept_topics "$d")"; done
# Every long-running component serves /metrics and /health on a free port
# (port 0) and writes its URL to $WORK/metrics.<name>: `gridhub status`
# reads them in the "Delivery state" step.
proc_start broker "$WORK/broker.log" "$WORK/broker.log" \
    "$GH" broker --bootstrap-file "$WORK/bootstrap" --topics "$topics" \
    --metrics-listen 127.0.0.1:0 --metrics-listen-file "$WORK/metrics.broker"
wait_until 20 "the broker's start" "$WORK/broker.log" test -s "$WORK/bootstrap"
BS=$(cat "$WORK/bootstrap")
echo "bootstrap.servers=$BS"

step "Starting five connectors, the hub and four subscribers"
source_topics=""
crosswalks=""
for d in "${DEPTS[@]}"; do
    proc_start "connector.$d" "$WORK/connector.$d.log" "$WORK/connector.$d.log" \
        "$GH" connector -c "connectors/$d/connector.properties" --bootstrap-servers "$BS" \
        --database-conninfo "$CI_BASE dbname=$d" --state-dir "$WORK/state" \
        --metrics-listen 127.0.0.1:0 --metrics-listen-file "$WORK/metrics.$d"
    source_topics+="${source_topics:+,}$(dept_topics "$d")"
    cw=$(dept_crosswalk "$d")
    [[ -z "$cw" ]] || crosswalks+="${crosswalks:+,}$cw"
done
proc_start hub "$WORK/hub.log" "$WORK/hub.log" \
    "$GH" hub --bootstrap-servers "$BS" --database-conninfo "$CI_BASE dbname=hub" \
    --source-topics "$source_topics" --grid-crosswalks "$crosswalks" \
    --policy-file "$POLICY" --policy-keys-file "$KEYS" --audit-signing-key-file "$WORK/audit.key" --crypt-key-file "$WORK/hub.keys" \
    --metrics-listen 127.0.0.1:0 --metrics-listen-file "$WORK/metrics.hub"
endpoints="broker=@$WORK/metrics.broker"
for d in "${DEPTS[@]}"; do endpoints+=",$d=@$WORK/metrics.$d"; done
endpoints+=",hub=@$WORK/metrics.hub"
for s in "${SUBS[@]}"; do
    proc_start "subscriber.$s" "$WORK/sub.$s.jsonl" "$WORK/tail.$s.log" \
        "$GH" tail --bootstrap-servers "$BS" --topic "hub.view.$s.person" \
        --metrics-listen 127.0.0.1:0 --metrics-listen-file "$WORK/metrics.sub.$s"
    endpoints+=",subscriber.$s=@$WORK/metrics.sub.$s"
done
# 综治's grid management also reads the grid view (docs/grid.md).
proc_start subscriber.zongzhi.grid "$WORK/sub.zongzhi.grid.jsonl" "$WORK/tail.zongzhi.grid.log" \
    "$GH" tail --bootstrap-servers "$BS" --topic hub.view.zongzhi.grid
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
# A catching-up hub leaves its persons' publication noted (view_dirty,
# views.person.defer.messages) for a quiet moment: caught up is both. The
# kinds noted for persons: those the hub's attribute refresh takes
# (ATTR_SQL in hub/grid/grid_view.c), and 'publish'.
PERSON_NOTES="'person', 'idkey', 'fp', 'publish'"
persons_published() {
    (($(psql -tAd hub -c "SELECT (SELECT count(*) FROM outbox) + (SELECT count(*)
        FROM view_dirty WHERE kind IN ($PERSON_NOTES))") == 0))
}
# ... and the rest of the snapshots: the group's committed offsets reach
# the end of every source topic but for what the live load just added.
caught_up() {
    lag=$(/usr/bin/python3 ops/lib/group_lag.py "$BS" gridhub-hub "$source_topics") &&
        ((lag <= 200)) && persons_published
}
wait_until 300 "the hub's catching up with every source topic" "$WORK/hub.log" caught_up
psql -d hub -c "SELECT count(*) FILTER (WHERE active) AS residents,
    count(*) FILTER (WHERE active AND jsonb_array_length(sources) > 1) AS \"in several departments\",
    (SELECT count(*) FROM outbox) AS \"outbox backlog\" FROM person"

SUBLIST=$(IFS=,; echo "${SUBS[*]}")
views() { python3 ops/lib/views.py "$@"; }
pseudo() { views pseudonym "$KEYS" "$1" "$2"; }
# has_key SUB KEY [FROM_LINE]: subscriber SUB received a record under KEY.
# (grep reads to the end: `grep -q` would end the pipe early, and pipefail
# would take tail's SIGPIPE for a failure.)
has_key() { tail -n +"${3:-1}" "$WORK/sub.$1.jsonl" | grep -F "\"key\":\"$2\"" >/dev/null; }
lines_of() { wc -l <"$WORK/sub.$1.jsonl"; }

step "One resident, as each subscriber sees them"
# A woman of child-bearing age in 大塘社区 (LP-DT, the epidemic grant's
# community) known to several departments, and an older man elsewhere.
pid_w=$(psql -tAd hub -c "SELECT person_id FROM person WHERE active AND sex = 'FEMALE'
    AND birth_date BETWEEN current_date - interval '45 years' AND current_date - interval '20 years'
    AND grid_code LIKE 'LP-DT%' AND phone IS NOT NULL AND id_number IS NOT NULL
    AND sources @> '[{\"department\": \"gongan\"}]' AND sources @> '[{\"department\": \"zongzhi\"}]'
    ORDER BY jsonb_array_length(sources) DESC, person_id LIMIT 1")
pid_m=$(psql -tAd hub -c "SELECT person_id FROM person WHERE active AND sex = 'MALE'
    AND birth_date < current_date - interval '60 years' AND grid_code LIKE 'LP-%'
    AND grid_code NOT LIKE 'LP-DT%' AND sources @> '[{\"department\": \"chuangwen\"}]'
    ORDER BY jsonb_array_length(sources) DESC, person_id LIMIT 1")
[[ -n "$pid_w" && -n "$pid_m" ]] || fail "no resident to show (the demo preset should have many)"
for p in $pid_w $pid_m; do
    k=$(pseudo gongan "$p")
    wait_until 60 "subscriber gongan's receiving $p" "$WORK/tail.gongan.log" has_key gongan "$k"
done
sleep 1
echo "  the hub's golden records (its own database; no subscriber receives this;"
echo "  ID numbers, phones and addresses are stored sealed, opened here with the key file):"
psql -tAd hub -c "SELECT row_to_json(p) FROM (SELECT person_id, name, sex, id_number, birth_date,
    phone, grid_code, (SELECT string_agg(s->>'department', ',') FROM jsonb_array_elements(sources) s)
    AS held_by FROM person WHERE person_id IN ('$pid_w', '$pid_m') ORDER BY person_id = '$pid_m') p" |
    /usr/bin/python3 tests/tools/unseal.py --keys "$WORK/hub.keys" 2>/dev/null |
    /usr/bin/python3 -c 'import json,sys
for l in sys.stdin:
    r = json.loads(l)
    print("    %s  %s  %s  id=%s  born=%s  phone=%s  grid=%s  held by %s" % tuple(
        r[k] or "-" for k in ("person_id", "name", "sex", "id_number", "birth_date", "phone", "grid_code", "held_by")))'
echo "  as stored: id_number=$(psql -tAd hub -c "SELECT id_number FROM person WHERE person_id = '$pid_w'")"
echo "  what each subscriber's topic carries (keys are per-subscriber pseudonyms):"
views show "$KEYS" "$WORK" "$SUBLIST" "$pid_w" "$pid_m"
echo "  residents in each subscriber's view:"
views counts "$WORK" "$SUBLIST"
seen=$(lines_of zongzhi)

step "Live changes keep coming from the generator (20/s); waiting 20 s"
sleep 20
psql -tAd hub -c "SELECT '  hub now: ' || count(*) FILTER (WHERE active) || ' residents, ' || (SELECT count(*) FROM source_person WHERE NOT deleted) || ' department records' FROM person"

step "What subscriber zongzhi received meanwhile (last 6 of $(($(lines_of zongzhi) - seen)) records)"
views last "$WORK" zongzhi 6 "$seen"

step "Identity resolution: the steward's review queue"
HUBCONF="$WORK/hub.properties"
printf 'bootstrap.servers=%s\ndatabase.conninfo=%s\nsource.topics=%s\ngrid.crosswalks=%s\npolicy.file=%s\npolicy.keys.file=%s\ncrypt.key.file=%s\n' \
    "$BS" "$CI_BASE dbname=hub" "$source_topics" "$crosswalks" "$POLICY" "$KEYS" "$WORK/hub.keys" >"$HUBCONF"
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
    from=$(($(lines_of gongan) + 1))
    "$GH" steward choose "$item" "$grid" --by demo-steward \
        --reason "visited: lives in $grid" -c "$HUBCONF" | sed 's/^/  /'
    k=$(pseudo gongan "$pid")
    for _ in $(seq 50); do has_key gongan "$k" "$from" && break; sleep 0.2; done
    sleep 1
    echo "  the resident as subscribers see them now:"
    views show "$KEYS" "$WORK" "$SUBLIST" "$pid"
fi

step "The shared grid: 综治's hierarchy, every department's staff, what does not fit (docs/grid.md)"
grids_ready() { (($(psql -tAd hub -c "SELECT count(*) FROM grid_staff_member") > 0)); }
wait_until 120 "the hub's grid hierarchy" "$WORK/hub.log" grids_ready
psql -tAd hub -c "SELECT '  ' || count(*) FILTER (WHERE level = 'GRID') || ' grids in ' ||
    count(*) FILTER (WHERE level = 'COMMUNITY') || ' communities; other departments'' units placed: ' ||
    (SELECT count(*) FILTER (WHERE ref_code IS NOT NULL) || ' of ' || count(*) FROM grid_unit u
     WHERE u.department <> 'zongzhi') FROM grid"
show_grid=$(psql -tAd hub -c "SELECT m.grid_code FROM grid_staff_member m JOIN grid g ON g.code = m.grid_code
    WHERE g.level = 'GRID' GROUP BY 1 ORDER BY count(DISTINCT m.department) DESC, count(*) DESC, 1 LIMIT 1")
"$GH" grid show "$show_grid" -c "$HUBCONF" 2>&1 | sed 's/^/  /'
echo "  the same grid as subscriber zongzhi receives it on hub.view.zongzhi.grid:"
grid_sent() { grep -q . "$WORK/sub.zongzhi.grid.jsonl"; }
wait_until 60 "the grid view on zongzhi's topic" "$WORK/tail.zongzhi.grid.log" grid_sent
views grid "$KEYS" "$WORK/sub.zongzhi.grid.jsonl" zongzhi "$show_grid"
echo "  one family, recorded by 公安 (户) and 计生 (家庭档案) under different numbers:"
show_hh=$(psql -tAd hub -c "SELECT household_id FROM household_record WHERE household_id NOT LIKE 'H:%'
    GROUP BY 1 HAVING count(DISTINCT department) = 2 ORDER BY count(*) DESC, 1 LIMIT 1")
[[ -z "$show_hh" ]] || "$GH" grid household "$show_hh" -c "$HUBCONF" 2>&1 | sed 's/^/    /'
echo "  one room, typed by 综治 without 公安's address code, found by community, building and room:"
show_b=$(psql -tAd hub -c "SELECT department || ':' || source_key FROM building_record
    WHERE address_code IS NULL AND building_id NOT LIKE 'B:%' ORDER BY 1 LIMIT 1")
[[ -z "$show_b" ]] || "$GH" grid building "$show_b" -c "$HUBCONF" 2>&1 | sed 's/^/    /'
echo "  each resident's current grid (docs/grid.md, \"Current grid\"), by the evidence that decided it:"
psql -tAd hub -c "SELECT '    ' || coalesce(a.grid_basis, '(no grid)') || ': ' || count(*) || ' residents'
    FROM person_attr a JOIN person p USING (person_id) WHERE p.active GROUP BY a.grid_basis ORDER BY 1"
psql -tAd hub -c "SELECT '    a steward item where the building and another department disagree (' ||
    (SELECT count(*) FROM steward_item WHERE kind = 'grid_conflict' AND status = 'open') || ' open), e.g. ' ||
    person_a || ': lives in building ' || (evidence -> 'values' -> 0 ->> 'building_id') || ' (' ||
    (evidence -> 'values' -> 0 ->> 'department') || ' ' || (evidence -> 'values' -> 0 ->> 'source_key') ||
    ') in ' || (evidence ->> 'chosen') || '; ' || (evidence -> 'values' -> 1 ->> 'department') || ' says ' ||
    (evidence -> 'values' -> 1 ->> 'value')
    FROM steward_item WHERE kind = 'grid_conflict' AND status = 'open' ORDER BY item_id LIMIT 1"
echo "  the 1+1+N check (a grid leader and a full-time member in every grid):"
"$GH" grid check -c "$HUBCONF" 2>&1 | tail -n 4 | sed 's/^/    /' || true
echo "  what stewards must settle instead of the hub guessing (gridhub grid issues):"
"$GH" grid issues -c "$HUBCONF" 2>&1 | tail -n 6 | sed 's/^/    /'

step "A resident moves to the next grid: both grids' counts change on the subscriber's topic"
to_grid=$(psql -tAd hub -c "SELECT code FROM grid WHERE level = 'GRID' AND code <> '$show_grid'
    AND parent_code = (SELECT parent_code FROM grid WHERE code = '$show_grid') ORDER BY code LIMIT 1")
mover=$(psql -tAd hub -c "SELECT sp.source_key FROM person p JOIN source_person sp USING (person_id)
    WHERE p.active AND p.grid_code = '$show_grid' AND jsonb_array_length(p.sources) = 1
      AND sp.department = 'zongzhi' AND NOT sp.deleted ORDER BY 1 LIMIT 1")
if [[ -n "$to_grid" && -n "$mover" ]]; then
    echo "  综治 records that resident $mover moved from $show_grid to $to_grid:"
    psql -d zongzhi -c "UPDATE zz_syrk SET wgbm = '$to_grid', gxsj = now() WHERE rkbh = '$mover'" | sed 's/^/    /'
    # The grid views lag the batches by up to views.refresh.interval.ms, and
    # the live load keeps noting grids: the move is in the counts once the
    # persons' notes (their current grid, derived from the records) and
    # then both grids' notes were taken by a refresh; then what that
    # refresh wrote to the outbox is relayed.
    moved() {
        [[ $(psql -tAd hub -c "SELECT p.grid_code FROM person p JOIN source_person sp USING (person_id)
            WHERE sp.department = 'zongzhi' AND sp.source_key = '$mover'") == "$to_grid" ]]
    }
    wait_until 60 "the move reaching the hub" "$WORK/hub.log" moved
    counted() {
        box=$(psql -tAd hub -c "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM view_dirty WHERE kind = 'grid'
            AND key IN ('$show_grid', '$to_grid') OR kind IN ($PERSON_NOTES))
            THEN (SELECT coalesce(max(id), 0) FROM outbox) END")
        [[ -n "$box" ]]
    }
    wait_until 60 "both grids' counts refreshed" "$WORK/hub.log" counted
    relayed() { (($(psql -tAd hub -c "SELECT count(*) FROM outbox WHERE id <= $box") == 0)); }
    wait_until 60 "the refreshed counts' relaying" "$WORK/hub.log" relayed
    sleep 2 # the subscriber's tail reads what the relay just published
    views grid "$KEYS" "$WORK/sub.zongzhi.grid.jsonl" zongzhi "$show_grid" "$to_grid"
    echo "  (the live load also moves residents meanwhile: every change is a new version)"
fi

step "One HTTP request finds a resident, their grid and its staff (gridhub api, docs/api.md)"
proc_start api "$WORK/api.log" "$WORK/api.log" \
    "$GH" api -c "$HUBCONF" --api-listen 127.0.0.1:0 --api-listen-file "$WORK/api.url"
wait_until 20 "the API's start" "$WORK/api.log" test -s "$WORK/api.url"
API=$(cat "$WORK/api.url")
# new_token SUBSCRIBER ROLE [GRIDS]: creates a token, prints it.
new_token() {
    "$GH" token create -c "$HUBCONF" --token-subscriber "$1" --token-role "$2" \
        ${3:+--token-grids "$3"} --token-note demo | grep '^gh_'
}
tok_ga=$(new_token gongan subscriber) || fail "gridhub token create"
tok_cw=$(new_token chuangwen subscriber) || fail "gridhub token create"
far=$(psql -tAd hub -c "SELECT code FROM grid WHERE level = 'GRID' AND code NOT LIKE 'LP-DT%' ORDER BY code LIMIT 1")
tok_gw=$(new_token zongzhi grid_worker "$far") || fail "gridhub token create"
id_w=$(psql -tAd hub -c "SELECT row_to_json(p) FROM (SELECT id_number FROM person WHERE person_id = '$pid_w') p" |
    /usr/bin/python3 tests/tools/unseal.py --keys "$WORK/hub.keys" 2>/dev/null |
    /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["id_number"])')
echo "  the API: $API; tokens are made with gridhub token create (shown once, kept hashed):"
echo "    公安 (gongan, department subscriber): ${tok_ga:0:14}…"
# api_get TOKEN QUERY: one request, its answer folded for reading.
api_get() {
    local out st
    out=$(curl -sS -H "Authorization: Bearer $1" -w '\n%{http_code}' "$API/v1/persons?$2") ||
        fail "curl $API/v1/persons" "$WORK/api.log"
    st=${out##*$'\n'}
    printf '%s' "${out%$'\n'*}" | views api "$st"
}
echo "  curl -H 'Authorization: Bearer \$TOKEN' '$API/v1/persons?id_number=${id_w:0:6}…'"
api_get "$tok_ga" "id_number=$id_w"
echo "  the same request with 创文's token (the policy masks the ID number, gives the birth year only, no household):"
api_get "$tok_cw" "id_number=$id_w"
echo "  by name and birth date (names are found with their homophones and traditional forms; 创文's token):"
nb=$(psql -tAd hub -c "SELECT name || '|' || birth_date FROM person WHERE person_id = '$pid_w'")
api_get "$tok_cw" "name=$(/usr/bin/python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "${nb%%|*}")&birth_date=${nb##*|}" |
    sed -n 1,2p # reads to the end: no broken pipe for views.py
echo "  a grid worker of $far asks for her (refused as unknown: she lives elsewhere), and a request without a token:"
api_get "$tok_gw" "id_number=$id_w"
api_get "" "id_number=$id_w"
echo "  the security officer's audit log has each read and refusal with the token:"
psql -tAd hub -c "SELECT '    ' || kind || ' ' || coalesce(entity, '-') || ' by ' ||
    coalesce((entry::jsonb ->> 'subscriber') || '/' || (entry::jsonb ->> 'role'), '(no token)') ||
    ' token ' || coalesce(entry::jsonb ->> 'token', '-') || ' ' ||
    coalesce('what=' || (entry::jsonb ->> 'what'), 'why=' || (entry::jsonb ->> 'why'))
    FROM audit_log WHERE entry::jsonb ->> 'command' = 'api' ORDER BY seq"

step "综治 without Kafka: its feed pushed to a web endpoint, signed (gridhub webhook, docs/api.md)"
openssl rand -hex 32 >"$WORK/zongzhi.webhook.secret"
chmod 600 "$WORK/zongzhi.webhook.secret"
proc_start receiver "$WORK/receiver.log" "$WORK/receiver.log" \
    /usr/bin/python3 ops/lib/webhook_receiver.py "$WORK/zongzhi.webhook.secret" \
    "$WORK/receiver.port" "$WORK/deliveries.jsonl"
wait_until 20 "the receiver's start" "$WORK/receiver.log" test -s "$WORK/receiver.port"
cp "$HUBCONF" "$WORK/webhook.properties"
printf 'webhook.zongzhi.url=http://127.0.0.1:%s/gridhub/feed\nwebhook.zongzhi.secret.file=%s\n' \
    "$(cat "$WORK/receiver.port")" "$WORK/zongzhi.webhook.secret" >>"$WORK/webhook.properties"
echo "  webhook.zongzhi.url=http://127.0.0.1:$(cat "$WORK/receiver.port")/gridhub/feed (a receiver verifying each signature)"
proc_start subscriber.webhook "$WORK/webhook.log" "$WORK/webhook.log" \
    "$GH" webhook -c "$WORK/webhook.properties"
delivered() {
    local n
    n=$(grep -c '"signature_valid": true' "$WORK/deliveries.jsonl" 2>/dev/null) || n=0
    ((n >= 20))
}
wait_until 120 "the first webhook deliveries" "$WORK/webhook.log" delivered
sleep 3
/usr/bin/python3 - "$WORK/deliveries.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
good = [l for l in lines if l["signature_valid"]]
print(f"  {len(lines)} POSTs received, {len(good)} with a valid signature; "
      f"{sum(l['records'] for l in good)} records, {sum(l['tombstones'] for l in good)} tombstones")
for l in good[:3]:
    print(f"    partition {l['partition']} offsets {l['first']}-{l['last']}: "
          f"{l['records']} records (first: {l['sample']}), signature valid")
PY

step "计生 without Kafka or a web endpoint: it pulls its feed with a cursor and long polls (GET /v1/feed, docs/api.md)"
new_token jisheng subscriber >"$WORK/jisheng.token" || fail "gridhub token create"
echo "  curl -H 'Authorization: Bearer \$TOKEN' '$API/v1/feed/person?max=1000&cursor=…&wait=25'"
echo "  (ops/lib/feed_client.py: a department's client in 80 lines of standard Python)"
/usr/bin/python3 ops/lib/feed_client.py "$API" "$WORK/jisheng.token" person \
    "$WORK/jisheng.cursor" 3 || fail "the pull feed" "$WORK/api.log"
# A woman of 20-40 whom 计生 records: in its view, so a change of hers is
# on its topic.
js_key=$(psql -tAd hub -c "SELECT sp.source_key FROM person p JOIN source_person sp USING (person_id)
    WHERE p.active AND p.sex = 'FEMALE' AND sp.department = 'jisheng' AND NOT sp.deleted
      AND p.birth_date BETWEEN current_date - interval '40 years' AND current_date - interval '20 years'
    ORDER BY 1 LIMIT 1")
echo "  the client keeps only the cursor ($WORK/jisheng.cursor); the next run reads on from it,"
echo "  and its long poll waits while 计生 records a new phone number for member $js_key:"
/usr/bin/python3 ops/lib/feed_client.py "$API" "$WORK/jisheng.token" person \
    "$WORK/jisheng.cursor" 30 >"$WORK/feed2.out" 2>&1 &
feed_pid=$!
sleep 2
psql -qd jisheng -c "UPDATE js_jtcy SET lxdh = '13900001111', czsj = now() WHERE cybh = '$js_key'"
echo "    (UPDATE js_jtcy SET lxdh = ... in 计生's own database, $(date +%T.%3N))"
wait "$feed_pid" || { cat "$WORK/feed2.out"; fail "the pull feed" "$WORK/api.log"; }
cat "$WORK/feed2.out"
echo "    (the change went 计生's database -> connector -> Kafka -> hub -> 计生's topic -> HTTP)"

step "A purpose-bound grant lapses by itself"
echo "  grant epidemic_dt gives 创文 (chuangwen) the phones of 大塘社区 (LP-DT) in clear:"
sed -n 's/^grant\.epidemic_dt\./    grant.epidemic_dt./p' "$POLICY"
cp "$POLICY" "$WORK/city.policy.before"
until=$(date -u -d '+10 sec' +%Y-%m-%dT%H:%M:%SZ)
loads=$(grep -c "policy .* loaded" "$WORK/hub.log" || true)
sed -i "s/^grant\.epidemic_dt\.until=.*/grant.epidemic_dt.until=$until/" "$POLICY"
echo "  the data-protection officer shortens it: grant.epidemic_dt.until=$until"
reloaded() { (($(grep -c "policy .* loaded" "$WORK/hub.log") > loads)); }
wait_until 30 "the hub's reloading the policy" "$WORK/hub.log" reloaded
grep "policy .* loaded" "$WORK/hub.log" | tail -1 | sed 's/^/  hub: /'
echo "  chuangwen now (grant active):"
views show "$KEYS" "$WORK" chuangwen "$pid_w"
kc=$(pseudo chuangwen "$pid_w")
from=$(($(lines_of chuangwen) + 1))
masked() { tail -n +"$from" "$WORK/sub.chuangwen.jsonl" | grep -F "\"key\":\"$kc\"" | grep '"phone":"[0-9]\{3\}\*' >/dev/null; }
wait_until 90 "the lapsed grant's re-materialization" "$WORK/hub.log" masked
grep -E "grant started or lapsed|subscriber chuangwen: person view" "$WORK/hub.log" | tail -2 | sed 's/^/  hub: /'
echo "  chuangwen after $until (grant lapsed, phone masked again, nobody touched the file):"
views show "$KEYS" "$WORK" chuangwen "$pid_w"

step "An independent check of every subscriber topic against the policy"
# The generator stops so that the hub's state and the topics can be read
# at one instant; tests/tools/policy_oracle.py (its own parser of
# docs/policy.md, its own Avro decoding from the schemas topic, Debian's
# python3 with python3-confluent-kafka) then checks every message.
proc_stop gen || fail "the generator did not stop"
# Settled: nothing noted is left to refresh either. A household's refresh
# notes its members, whose attributes (household_id) follow at the next
# quiet refresh; the golden records are read only after that.
settled() {
    (($(psql -tAd hub -c "SELECT (SELECT count(*) FROM outbox) + (SELECT count(*) FROM view_dirty)") == 0))
}
wait_until 120 "the hub's settling (every noted change refreshed and published)" "$WORK/hub.log" settled
sleep 2
psql -tAd hub -f tests/tools/persons_as_sent.sql | /usr/bin/python3 tests/tools/unseal.py --keys "$WORK/hub.keys" \
    >"$WORK/persons.jsonl" 2>"$WORK/unseal.log" || fail "opening the golden records" "$WORK/unseal.log"
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
/usr/bin/python3 tests/tools/policy_oracle.py dump --bootstrap "$BS" --out "$WORK/messages.jsonl" \
    2>&1 | sed 's/^/  /'
/usr/bin/python3 tests/tools/policy_oracle.py check --policy "$POLICY" --keys "$KEYS" \
    --old-policy "$WORK/city.policy.before" --persons "$WORK/persons.jsonl" \
    --messages "$WORK/messages.jsonl" --now "$now" --max-violations 10 >"$WORK/oracle.txt" 2>&1 ||
    oracle_rc=$?
sed 's/^/  /' "$WORK/oracle.txt" | grep -v '^  policy ' | tail -6
((${oracle_rc:-0} == 0)) || fail "the independent check found records outside the policy" "$WORK/oracle.txt"
# With the load stopped the views settle: what was published must then equal
# a recount from the hub's tables (under load it lags by design).
echo "  every grid's published counts, every resident's attributes and every building against a recount (gridhub grid recount):"
recount_ok() { "$GH" grid recount -c "$HUBCONF" >"$WORK/recount.txt" 2>&1; }
wait_until 90 "published grid counts, attributes and buildings equal to a recount" "$WORK/recount.txt" recount_ok
grep -E 'recounted|derived afresh|buildings:' "$WORK/recount.txt" | sed 's/^/    /'

step "The security officer: who received what, and proof that the record was not altered (docs/audit.md)"
HUB_CI="$CI_BASE dbname=hub"
"$GH" audit head --key "$WORK/audit.key" --database-conninfo "$HUB_CI" >/dev/null 2>&1 ||
    fail "gridhub audit head"
/usr/bin/python3 tests/tools/dump_topic.py "$BS" hub.audit.heads >"$WORK/heads.jsonl" ||
    fail "reading the signed heads from the audit topic"
echo "  $(wc -l <"$WORK/heads.jsonl") signed tree heads on topic hub.audit.heads, the latest:"
tail -1 "$WORK/heads.jsonl" | cut -c1-150 | sed 's/^/    /'
"$GH" audit verify --public-key "$WORK/audit.pub" --heads "$WORK/heads.jsonl" \
    --database-conninfo "$HUB_CI" >"$WORK/verify.txt" 2>&1 || fail "audit verify on the intact log" "$WORK/verify.txt"
sed 's/^/  /' "$WORK/verify.txt"
echo "  access matrix (records disclosed per subscriber, source department and field; ID numbers and phones):"
"$GH" audit report --database-conninfo "$HUB_CI" >"$WORK/report.txt" || fail "audit report" "$WORK/report.txt"
grep -E '^subscriber|^[a-z]+ +[a-z()]+ +(id_number|phone) ' "$WORK/report.txt" | sed 's/^/    /'
"$GH" audit prove --seq 1000 --database-conninfo "$HUB_CI" >"$WORK/proof.json" || fail "audit prove"
echo "  entry 1000: $(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["entry"][:150])' "$WORK/proof.json")..."
"$GH" audit check-proof "$WORK/proof.json" --public-key "$WORK/audit.pub" | sed 's/^/  /'
echo "  an insider alters entry 1000 with psql:"
# psql fails here, as it must: the refusal is what is shown.
{ psql -d hub -c "UPDATE audit_log SET entry = replace(entry, '\"op\":\"put\"', '\"op\":\"remove\"') WHERE seq = 1000" 2>&1 || true; } |
    grep -o 'ERROR: .*' | sed 's/^/    as the hub: /'
psql -qd hub -c "SET session_replication_role = replica; UPDATE audit_log SET entry = replace(entry, '\"op\":\"put\"', '\"op\":\"remove\"') WHERE seq = 1000"
echo "    as a superuser, triggers off: done"
if "$GH" audit verify --public-key "$WORK/audit.pub" --heads "$WORK/heads.jsonl" \
    --database-conninfo "$HUB_CI" >"$WORK/verify2.txt" 2>&1; then
    fail "audit verify did not notice the altered entry" "$WORK/verify2.txt"
fi
sed 's/^/  gridhub audit verify: /' "$WORK/verify2.txt"

step "The security officer: a copy of the hub database is not a copy of the register (docs/encryption.md)"
pg_dump -d hub -f "$WORK/hub.dump.sql" || fail "pg_dump of the hub database"
psql -tAd zongzhi -c "SELECT gmsfhm FROM zz_syrk WHERE gmsfhm ~ '^[0-9]{17}[0-9X]$' LIMIT 2000" >"$WORK/ids.txt"
psql -tAd zongzhi -c "SELECT lxdh FROM zz_syrk WHERE lxdh ~ '^1[0-9]{10}$' LIMIT 2000" >"$WORK/phones.txt"
# Whole words only: an 11-digit mobile is a substring of many 19-digit hash
# keys, which are not a disclosure.
found=$(grep -cwFf "$WORK/ids.txt" "$WORK/hub.dump.sql" || true)
foundp=$(grep -cwFf "$WORK/phones.txt" "$WORK/hub.dump.sql" || true)
echo "  pg_dump of the hub: $(du -h "$WORK/hub.dump.sql" | cut -f1); lines holding one of $(wc -l <"$WORK/ids.txt") residents' ID numbers: $found; of $(wc -l <"$WORK/phones.txt") mobile numbers: $foundp"
((found == 0 && foundp == 0)) || fail "the hub database holds ID or phone numbers in clear"
"$GH" keys rotate --crypt-key-file "$WORK/hub.keys" --database-conninfo "$HUB_CI" \
    >"$WORK/rotate.txt" 2>"$WORK/rotate.log" || fail "gridhub keys rotate" "$WORK/rotate.log"
sed 's/^/  gridhub keys rotate (the hub running): /' "$WORK/rotate.txt"

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

step "Stopping cleanly: generator, connectors, hub, subscribers, broker, PostgreSQL"
t0=$SECONDS
stopped=()
proc_stop_all || fail "a process had to be killed (see above)"
bad=0
for name in gen connector.zongzhi connector.gongan connector.jisheng connector.zuzhi connector.chuangwen hub \
    subscriber.gongan subscriber.chuangwen subscriber.jisheng subscriber.zongzhi subscriber.webhook \
    api broker receiver; do
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
