#!/usr/bin/env bash
# Hub benchmark: incremental identity resolution throughput on this machine.
#
#   ./ops/bench-hub.sh [--preset demo|city] [--scale F] [--seed N]
#                      [--policy city|open|FILE] [--subscribers N]
#                      [--entities person|all] [--api RATES[:SECONDS]]
#                      [--latency RATES[:SECONDS]] [--failover]
#                      [--instances N] [--check] [--partitions N]
#                      [--report FILE]
#
# Generates the preset into five department databases, lets the five
# connectors publish their snapshots to the embedded broker, then starts
# the hub on an empty hub database and times how long it takes to apply
# and resolve every person record (batch by batch, exactly as it resolves
# live changes) until its outbox is empty. Prints records/s, the hub's peak
# RSS, the persons and steward items it ended with, and, from the
# generator's ground truth, the pairwise precision and recall of the hub's
# clusters. --policy picks the access policy the views are made under:
# `city` (ops/policy/city.policy, four subscribers; the default), `open`
# (--subscribers N subscribers, 1 by default, each seeing every row and
# field in clear: the same fan-out with nothing to enforce, the baseline
# enforcement is measured against) or a file. Afterwards it changes the policy (chuangwen's phones
# dropped) and times the re-materialization of that subscriber's whole view.
# --entities all makes the hub consume every topic the connectors publish
# (grids, buildings, households, staff, events, ...) while it resolves the
# persons, as in production; `person` (the default) only the person topics.
# The records/s figure is persons either way: the difference is what the
# other entities cost person resolution.
# --api RATES[:SECONDS] then serves the hub database with `gridhub api`
# and finds residents by ID number (公安's token: every field and its grid,
# staff and household; numbers from 公安's register, typed as it has them)
# at each of RATES (e.g. 500,1000) requests/s for SECONDS (20) with
# ops/load/api_load.c, an open-loop generator (latency from when each
# request was due) on the same machine, after a 3 s warm-up; prints the
# percentiles.
# --latency RATES[:SECONDS] then commits new residents into 综治's
# register at each of RATES (e.g. 200,2000,5000) rows/s for SECONDS (20)
# with ops/load/e2e_load.c, open loop, and reads the subscriber topic of
# 公安's view (every row, phones in clear; with the open policy the first
# subscriber's) with a plain Kafka consumer: the latency from each row's
# COMMIT to its first record on that topic, p50/p90/p99/p99.9/max. At the
# end the hub is stopped and the time it spent per stage (its closing
# lines) is printed.
# --failover starts a second hub instance in the same consumer group,
# commits 200 new residents/s for 40 s as --latency does, kills the first
# instance with SIGKILL 10 s in, and prints the latency percentiles: the
# rows of the dead instance's partitions wait until the survivor takes
# them over, so the maximum is the fail-over gap (kill to the survivor's
# first batch of them, plus the normal latency); the survivor's log line
# "partitions assigned" gives the moment.
# --instances N starts N hub instances in one consumer group at once
# (one by default) and times them together: the three-instance run is
# `--instances 3`.
# --check counts what arrived where (ops/lib/count-check.sh): the rows of
# every department table that passes its mapping's filter against the rows
# the hub holds of it, and, per subscriber topic, the keys a plain
# consumer holds after folding the topic (ops/load/view_count.c, started
# before the hub, reading as the views are written) against the records
# the hub holds as sent; any difference, or a message the broker evicted
# before it was read, fails the run (exit 1).
# --partitions N: partitions of every department topic on the embedded
# broker (the others get the mock's 4). By default 4, or, for a preset
# whose largest department table would not fit the broker's bounded log
# at 4 (about 5 MiB a partition, docs/operations.md), one partition per
# 20,000 rows of it.
# --report FILE also writes what is printed as a markdown report, headed
# by the machine, the commit and the command (ops/bench-e2e.sh).
# The connectors' snapshot (rows/s each and together) and every process's
# peak RSS are printed too; the hub's own time per stage when it stops.
# Everything is real: PostgreSQL started by ops/pg-cluster.sh,
# `gridhub gen`, `gridhub connector`, `gridhub hub`.
# Environment, for looking into a run: GH_BENCH_KEEP=1 keeps the logs and
# the cluster's data; GH_BENCH_PG_LOG_MS=N logs statements slower than N ms;
# GH_BENCH_PG_EXPLAIN_MS=N also their plans (auto_explain, nested statements
# of the view functions included), with GH_BENCH_PG_EXPLAIN_ANALYZE=1 the
# time each plan node took; GH_BENCH_PG_STATEMENTS=N prints the hub
# database's N statements that took the most time over the load
# (pg_stat_statements); GH_BENCH_HUB_ARGS adds hub arguments
# (e.g. "-X views.refresh.interval.ms=30000").
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"

PRESET=demo SCALE=1 SEED=1 POLICY=city NSUBS=1 ENTITIES=person API='' LATENCY='' FAILOVER=''
INSTANCES=1 CHECK='' PARTS='' REPORT=''
ARGS=("$@")
while (($#)); do
    case $1 in
    --preset) PRESET=$2; shift 2 ;;
    --scale) SCALE=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --policy) POLICY=$2; shift 2 ;;
    --subscribers) NSUBS=$2; shift 2 ;;
    --entities) ENTITIES=$2; shift 2 ;;
    --api) API=$2; shift 2 ;;
    --latency) LATENCY=$2; shift 2 ;;
    --failover) FAILOVER=1; shift ;;
    --instances) INSTANCES=$2; shift 2 ;;
    --check) CHECK=1; shift ;;
    --partitions) PARTS=$2; shift 2 ;;
    --report) REPORT=$2; shift 2 ;;
    *) echo "usage: $0 [--preset demo|city] [--scale F] [--seed N] [--policy city|open|FILE] [--subscribers N] [--entities person|all] [--api RATES[:SECONDS]] [--latency RATES[:SECONDS]] [--failover] [--instances N] [--check] [--partitions N] [--report FILE]" >&2; exit 2 ;;
    esac
done
[[ $ENTITIES == person || $ENTITIES == all ]] || { echo "--entities: person or all, not '$ENTITIES'" >&2; exit 2; }
[[ $INSTANCES =~ ^[1-9]$ ]] || { echo "--instances: 1..9, not '$INSTANCES'" >&2; exit 2; }
[[ -z $FAILOVER || $INSTANCES == 1 ]] || { echo "--failover starts its own second instance: not with --instances" >&2; exit 2; }
[[ -z $PARTS || $PARTS =~ ^[1-9][0-9]{0,2}$ ]] || { echo "--partitions: 1..999, not '$PARTS'" >&2; exit 2; }
if [[ -n $REPORT && -z ${GH_BENCH_REPORTING:-} ]]; then
    # Run again with the output kept, then write it as markdown.
    out=$(mktemp)
    rc=0
    GH_BENCH_REPORTING=1 "$0" "${ARGS[@]}" | tee "$out" || rc=$?
    python3 ops/lib/bench-report.py --command "ops/bench-hub.sh ${ARGS[*]}" --status "$rc" <"$out" >"$REPORT"
    rm -f "$out"
    echo "report written to $REPORT" >&2
    exit "$rc"
fi

# shellcheck source=ops/lib/bench-setup.sh
. ops/lib/bench-setup.sh
bench_setup gridhub-bench-hub
# The hub database in a cluster of its own, as in production: every
# logical replication slot's walsender reads the whole cluster's WAL, and
# the five connectors' walsenders decoding the hub's writes took a sixth
# of the two cores (205 s of CPU in a 632 s run) when they shared one.
HUBPORT=$(./ops/pg-cluster.sh start "$WORK/pg-hub" 2>/dev/null | sed -n 's/.*PGPORT=\([0-9]*\).*/\1/p')
hubsql() { psql -p "$HUBPORT" "$@"; }
if [[ -n "${GH_BENCH_PG_STATEMENTS:-}" ]]; then # where PostgreSQL's time goes
    hubsql -q -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"
    ./ops/pg-cluster.sh stop "$WORK/pg-hub" >/dev/null 2>&1
    ./ops/pg-cluster.sh start "$WORK/pg-hub" "$HUBPORT" >/dev/null 2>&1
    # Known only once the library is loaded.
    hubsql -q -c "ALTER SYSTEM SET pg_stat_statements.track = 'all'" -c "SELECT pg_reload_conf()" >/dev/null
fi
CI="host=$PGHOST port=$PGPORT user=$PGUSER"
CI_HUB="host=$PGHOST port=$HUBPORT user=$PGUSER"
if [[ -n "${GH_BENCH_PG_LOG_MS:-}" ]]; then # slow statements to the PG log
    hubsql -qc "ALTER SYSTEM SET log_min_duration_statement = ${GH_BENCH_PG_LOG_MS}"
    hubsql -qc "SELECT pg_reload_conf()" >/dev/null
fi
if [[ -n "${GH_BENCH_PG_EXPLAIN_MS:-}" ]]; then # their plans too, nested ones included
    hubsql -q -c "LOAD 'auto_explain'" \
        -c "ALTER SYSTEM SET session_preload_libraries = 'auto_explain'" \
        -c "ALTER SYSTEM SET auto_explain.log_min_duration = ${GH_BENCH_PG_EXPLAIN_MS}" \
        -c "ALTER SYSTEM SET auto_explain.log_nested_statements = on" \
        -c "ALTER SYSTEM SET auto_explain.log_analyze = ${GH_BENCH_PG_EXPLAIN_ANALYZE:-0}" \
        -c "SELECT pg_reload_conf()" >/dev/null
fi
DEPTS=(zongzhi gongan jisheng zuzhi chuangwen)
gen_args=()
for d in "${DEPTS[@]}"; do
    psql -qc "CREATE DATABASE $d"
    gen_args+=(--"$d"-conninfo "$CI dbname=$d")
done
hubsql -qc "CREATE DATABASE hub"
[[ -z "${GH_BENCH_PG_STATEMENTS:-}" ]] || hubsql -qd hub -c "CREATE EXTENSION pg_stat_statements"
echo "generating the $PRESET preset (scale $SCALE, seed $SEED)..." >&2
"$GH" gen --preset "$PRESET" --scale "$SCALE" --seed "$SEED" "${gen_args[@]}" \
    --truth-file "$WORK/truth.jsonl" >"$WORK/gen.log" 2>&1
expected=$(wc -l <"$WORK/truth.jsonl")
if [[ -z $PARTS ]]; then
    biggest=0
    for d in "${DEPTS[@]}"; do
        b=$(psql -tAd "$d" -c "SELECT coalesce(max(n_live_tup), 0) FROM pg_stat_user_tables")
        ((b > biggest)) && biggest=$b
    done
    PARTS=$(((biggest + 19999) / 20000))
    ((PARTS < 4)) && PARTS=4
fi

# shellcheck source=ops/lib/topics.sh
. ops/lib/topics.sh
# Every department topic made at start with PARTS partitions (the mock
# would make any other with its own 4).
dept_topic_list=""
for d in "${DEPTS[@]}"; do dept_topic_list+="${dept_topic_list:+,}$(dept_topics "$d")"; done
proc_start broker "$WORK/broker.log" "$WORK/broker.log" \
    "$GH" broker --bootstrap-file "$WORK/bootstrap" --topic-partitions "$PARTS" \
    --topics "$dept_topic_list"
for _ in $(seq 100); do [[ -s "$WORK/bootstrap" ]] && break; sleep 0.1; done
BS=$(cat "$WORK/bootstrap")

topics=""
crosswalks=""
tc0=$(date +%s.%N)
for d in "${DEPTS[@]}"; do
    proc_start "connector.$d" "$WORK/connector.$d.log" "$WORK/connector.$d.log" \
        "$GH" connector -c "connectors/$d/connector.properties" --bootstrap-servers "$BS" \
        --database-conninfo "$CI dbname=$d" --state-dir "$WORK/state"
    if [[ $ENTITIES == all ]]; then
        topics+="${topics:+,}$(dept_topics "$d")"
        cw=$(dept_crosswalk "$d")
        [[ -z "$cw" ]] || crosswalks+="${crosswalks:+,}$cw"
    else
        topics+="${topics:+,}gridhub.$d.person"
    fi
done
for d in "${DEPTS[@]}"; do
    for _ in $(seq 6000); do grep -q "snapshot done" "$WORK/connector.$d.log" && break; sleep 0.1; done
done
tc1=$(date +%s.%N)
echo "snapshots published; starting the hub on $expected person records" >&2

case $POLICY in
city) cp ops/policy/city.policy "$WORK/bench.policy" ;;
open)
    [[ "$NSUBS" =~ ^[1-9][0-9]?$ ]] || { echo "--subscribers: 1..99, not '$NSUBS'" >&2; exit 2; }
    depts=(zongzhi gongan jisheng chuangwen zuzhi)
    : >"$WORK/bench.policy"
    for ((i = 0; i < NSUBS; i++)); do
        sub=bench$((i + 1))
        ((NSUBS > 1)) || sub=bench
        printf 'subscriber.%s.department=%s\nsubscriber.%s.role=benchmark\nrows.%s.person=all\nfield.%s.person.*=clear\n' \
            "$sub" "${depts[i % 5]}" "$sub" "$sub" "$sub" >>"$WORK/bench.policy"
    done
    ;;
*) cp "$POLICY" "$WORK/bench.policy" ;;
esac
"$GH" policy keys --generate "$WORK/bench.keys" --policy "$WORK/bench.policy" >/dev/null
# The policy's subscribers, one a line, in the file's order.
bench_subs() { sed -n 's/^subscriber\.\([^.]*\)\.department=.*/\1/p' "$WORK/bench.policy"; }
nsubs=$(bench_subs | wc -l)

start_hub() { # NAME: an instance of the hub, log NAME.log
    # shellcheck disable=SC2086 # GH_BENCH_HUB_ARGS: several words on purpose
    proc_start "$1" "$WORK/$1.log" "$WORK/$1.log" \
        "$GH" hub --bootstrap-servers "$BS" --database-conninfo "$CI_HUB dbname=hub" \
        --source-topics "$topics" ${crosswalks:+--grid-crosswalks "$crosswalks"} \
        --policy-file "$WORK/bench.policy" \
        --policy-keys-file "$WORK/bench.keys" \
        --metrics-listen 127.0.0.1:0 --metrics-listen-file "$WORK/metrics.$1" \
        ${GH_BENCH_HUB_ARGS:-}
}
# The subscribers' topics, read from the start by a plain consumer.
if [[ -n $CHECK ]]; then
    cmake --build build-bench -j"$(nproc)" --target gh_view_count >/dev/null
    view_topics=""
    view_entities=person
    [[ $ENTITIES == all ]] && view_entities="person grid event"
    while read -r sub; do
        for ent in $view_entities; do view_topics+="${view_topics:+,}hub.view.$sub.$ent"; done
    done < <(bench_subs)
    proc_start subscriber.count "$WORK/viewcount.txt" "$WORK/viewcount.log" \
        "$ROOT/build-bench/gh_view_count" --bootstrap "$BS" --topics "$view_topics"
fi
HUBS=(hub)
for ((i = 2; i <= INSTANCES; i++)); do HUBS+=("hub$i"); done
t0=$(date +%s.%N)
for i in "${HUBS[@]}"; do start_hub "$i"; done
# A metric of the hubs' summed over their series and the instances; -1 if
# a hub does not serve it (yet).
hub_metric() {
    local url port i total=0 l
    for i in "${HUBS[@]}"; do
        url=$(cat "$WORK/metrics.$i" 2>/dev/null) || { echo -1; return; }
        port=${url##*:}
        port=${port%%/*}
        l=$({ exec 3<>"/dev/tcp/127.0.0.1/$port" &&
            printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3 && cat <&3 && exec 3<&-; } 2>/dev/null |
            awk -v m="$1" '$1 == m || index($1, m "{") == 1 {s += $NF; n++} END {printf "%d\n", n ? s : -1}')
        ((l < 0)) && { echo -1; return; }
        total=$((total + l))
    done
    echo "$total"
}
hub_lag() { hub_metric gridhub_hub_consumer_lag_messages; } # summed over partitions
# Persons done: every person record applied and resolved (one transaction
# does both; that moment is printed too), then their views made (the persons' notes that were there
# at that moment taken: the views thread makes them after the batch
# commits), then what the outbox held then relayed (the persons' view
# records; what later batches of other entities write does not count,
# their own figure follows). The persons to publish are noted again by
# each round of attributes that holds them back during a catch-up
# (grid_view.c), under that round's transaction id, so "published" also
# waits for no note to publish to be left at all: without that the
# figure was taken at the first round after the persons were resolved,
# 5-6 s before they went out.
n=0 upto= xid= ta=
for _ in $(seq 7200); do
    # Counted only once the hubs say they have resolved as many records
    # (their metric, which also counts records resolved twice): a count
    # every half second took 89 ms of a core each at a tenth of the city
    # (530 calls, 47 s, beside the hub it measures).
    if [[ -z $xid ]] && r=$(hub_metric gridhub_hub_resolve_records_total) &&
        ((r < 0 || r >= expected)); then
        n=$(hubsql -tAd hub -c "SELECT count(*) FROM source_person" 2>/dev/null || echo 0)
        ((n >= expected)) && ta=$(date +%s.%N) &&
            xid=$(hubsql -tAd hub -c "SELECT coalesce(max(xid), '0') FROM view_dirty")
    fi
    # Whether any is left, not how many, and xid8 compared as it is: a
    # count over the notes with a cast of each took 100 ms of a core every
    # half second, competing with the hub it measures (58 calls, 5.9 s).
    if [[ -n $xid && -z $upto ]]; then
        left=$(hubsql -tAd hub -c "SELECT EXISTS (SELECT 1 FROM view_dirty WHERE kind IN ('publish', 'person', 'idkey', 'fp') AND xid <= '$xid'::xid8) OR EXISTS (SELECT 1 FROM view_dirty WHERE kind = 'publish')")
        [[ $left == f ]] && upto=$(hubsql -tAd hub -c "SELECT coalesce(max(id), 0) FROM outbox")
    fi
    if [[ -n $upto ]]; then
        ob=$(hubsql -tAd hub -c "SELECT count(*) FROM outbox WHERE id <= $upto")
        ((ob == 0)) && break
    fi
    sleep 0.5
done
t1=$(date +%s.%N)
# With every entity: also until the hub has read every topic to its end
# (its consumer lag, from its metrics), and holds, refreshed and published
# all of it, so the figure below says how long the whole preset took.
# Looked at every half second; the moment is the first look that found
# it quiet (nothing to relay, no note, no lag) when a look at least a
# second later finds it still so with as many rows (the lag metric may
# lag). Sampled every 3 s before, which added up to 3 s to the figure.
entity_rows=0
t2=
if [[ $ENTITIES == all ]]; then
    quiet_at='' quiet_rows=''
    for _ in $(seq 14400); do
        rest=$(hubsql -tAd hub -c "SELECT (SELECT count(*) FROM outbox) + (SELECT count(*) FROM view_dirty)")
        if ((rest == 0)) && [[ $(hub_lag) == 0 ]]; then
            now=$(date +%s.%N)
            b=$(hubsql -tAd hub -c "SELECT count(*) FROM source_row")
            if [[ -n $quiet_at && $b == "$quiet_rows" ]]; then
                (($(echo "$now - $quiet_at >= 1" | bc -l))) && { t2=$quiet_at; break; }
            else
                quiet_at=$now quiet_rows=$b
            fi
        else
            quiet_at='' quiet_rows=''
        fi
        sleep 0.5
    done
    entity_rows=${quiet_rows:-0}
fi
[[ -n $t2 ]] || t2=$(date +%s.%N)
rss=0
for i in "${HUBS[@]}"; do
    r=$(awk '/VmHWM/ {print $2}' "/proc/$(proc_pid "$i")/status")
    ((r > rss)) && rss=$r
done
secs=$(echo "$t1 - $t0" | bc -l)

# Re-materialization: one subscriber's rules change (chuangwen's phones
# dropped; with the open policy, the bench subscriber's); timed from the
# file's change to its view swept and the outbox empty.
remat_sub=chuangwen
grep -q '^subscriber\.chuangwen\.' "$WORK/bench.policy" || remat_sub=$(bench_subs | head -1)
sent0=$(hubsql -tAd hub -c "SELECT count(*) FROM feed_state WHERE subscriber = '$remat_sub'")
r0=$(date +%s.%N)
printf 'deny.%s.person.phone=all\n' "$remat_sub" >>"$WORK/bench.policy"
for _ in $(seq 1200); do
    swept=$(hubsql -tAd hub -c "SELECT bool_and(swept AND NOT force) AND (SELECT count(*) FROM outbox) = 0 AND bool_and(updated_at > to_timestamp($r0)) FROM feed_plan WHERE subscriber = '$remat_sub' AND entity = 'person'" 2>/dev/null || echo f)
    [[ "$swept" == t ]] && break
    sleep 0.1
done
r1=$(date +%s.%N)
remat=$(echo "$r1 - $r0" | bc -l)

hubsql -tAd hub -F ' ' -c "COPY (SELECT department, source_key, person_id FROM source_person WHERE NOT deleted) TO STDOUT" >"$WORK/clusters.tsv"
python3 - "$WORK/truth.jsonl" "$WORK/clusters.tsv" <<'PY' >"$WORK/accuracy.txt"
import json, sys
from collections import Counter
truth = {}
for l in open(sys.argv[1], encoding="utf-8"):
    t = json.loads(l)
    truth[(t["department"], t["source_key"])] = t["true_id"]
pred = {}
for l in open(sys.argv[2], encoding="utf-8"):
    d, k, p = l.rstrip("\n").split("\t")
    pred[(d, k)] = p
keys = [k for k in pred if k in truth]
pairs = lambda c: sum(v * (v - 1) // 2 for v in c.values())
tp = pairs(Counter((pred[k], truth[k]) for k in keys))
pp = pairs(Counter(pred[k] for k in keys))
tt = pairs(Counter(truth[k] for k in keys))
p = tp / pp if pp else 1.0
r = tp / tt if tt else 1.0
print(f"records {len(keys)}  persons {len(set(pred[k] for k in keys))}  true residents {len(set(truth[k] for k in keys))}")
print(f"pairwise precision {p:.5f}  recall {r:.5f}  F1 {2*p*r/(p+r) if p+r else 0:.5f}")
PY

echo
echo "== connectors: snapshot of the preset into the embedded broker ($PARTS partitions a topic), all five at once"
snap_rows=0
for d in "${DEPTS[@]}"; do
    r=$(grep -o 'snapshot done: .*' "$WORK/connector.$d.log" | head -1)
    r=${r#snapshot done: } # "N rows in M ms (R rows/s)"
    echo "  $d: $r"
    snap_rows=$((snap_rows + ${r%% *}))
done
printf '  together: %d rows in %.1f s from the start of the first to the end of the last: %.0f rows/s\n' \
    "$snap_rows" "$(echo "$tc1 - $tc0" | bc -l)" "$(echo "$snap_rows / ($tc1 - $tc0)" | bc -l)"
echo "== hub incremental resolution, preset $PRESET scale $SCALE seed $SEED, $(nproc) cores, $INSTANCES instance(s)"
printf '  %d person records applied, resolved and published in %.1f s: %.0f records/s (all applied and resolved after %.1f s)\n' \
    "$n" "$secs" "$(echo "$n / $secs" | bc -l)" "$(echo "${ta:-$t1} - $t0" | bc -l)"
if [[ $ENTITIES == all ]]; then
    printf '  entities: every topic; %d rows of other entities applied, all done %.1f s after the start\n' "$entity_rows" "$(echo "$t2 - $t0" | bc -l)"
    hubsql -tAd hub -c "SELECT '  by entity: ' || string_agg(entity || ' ' || n, ', ') FROM (SELECT entity, count(*) n FROM source_row GROUP BY 1 ORDER BY 1) x"
    hubsql -tAd hub -c "SELECT '  grids: ' || count(*) || ', staff ' || (SELECT count(*) FROM grid_staff_member) || ', grid issues ' || (SELECT count(*) FROM grid_issue) FROM grid"
else
    echo "  entities: person topics only"
fi
echo "  hub peak RSS: $((rss / 1024)) MiB$( ((INSTANCES > 1)) && echo " (the largest of $INSTANCES instances)")"
echo "  policy: $POLICY ($nsubs subscribers, version $(grep -o 'version [0-9a-f]*' "$WORK/hub.log" | head -1 | cut -d' ' -f2))"
hubsql -tAd hub -c "SELECT '  subscriber records held: ' || string_agg(subscriber || ' ' || n, ', ') FROM (SELECT subscriber, count(*) FILTER (WHERE digest IS NOT NULL) n FROM feed_state GROUP BY subscriber ORDER BY subscriber) x"
printf '  re-materialization of %s after a policy change (%s records): %.1f s (policy file changed -> view swept, outbox empty; includes policy.check.interval.ms)\n' "$remat_sub" "$sent0" "$remat"
hubsql -tAd hub -c "SELECT '  hub database: ' || pg_size_pretty(pg_database_size('hub'))"
hubsql -tAd hub -c "SELECT '  persons: ' || count(*) FILTER (WHERE active) || ' active, ' || count(*) FILTER (WHERE NOT active) || ' retired' FROM person"
hubsql -tAd hub -c "SELECT '  steward items open: ' || coalesce(string_agg(kind || ' ' || n, ', '), 'none') FROM (SELECT kind, count(*) n FROM steward_item WHERE status = 'open' GROUP BY kind ORDER BY kind) x"
sed 's/^/  /' "$WORK/accuracy.txt"
# Informational: a short run may not have logged these yet.
{ grep -E "resolution:|trained" "$WORK/hub.log" || true; } | tail -2 | sed 's/^/  log: /'

if [[ -n "${GH_BENCH_PG_STATEMENTS:-}" ]]; then
    echo "== the hub database's statements by total time over the load (pg_stat_statements, nested statements of functions counted too)"
    hubsql -d hub -c "SELECT round(total_exec_time) AS ms, calls, round(mean_exec_time::numeric, 2) AS mean_ms,
        rows, left(regexp_replace(query, '\s+', ' ', 'g'), 90) AS statement
        FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
        WHERE d.datname = 'hub' ORDER BY total_exec_time DESC LIMIT ${GH_BENCH_PG_STATEMENTS}" | sed 's/^/    /'
fi

# ---- the count check: nothing lost on the way -------------------------------
check_rc=0
if [[ -n $CHECK ]]; then
    # shellcheck source=ops/lib/count-check.sh
    . ops/lib/count-check.sh
    proc_stop subscriber.count 600 || true # reads to the end, then prints
    echo "== count check: department tables -> hub -> subscriber topics"
    if grep -q "messages lost" "$WORK/viewcount.log"; then
        sed 's/^/  /' "$WORK/viewcount.log"
        check_rc=1
    fi
    count_check "$ENTITIES" "$WORK/viewcount.txt" "${DEPTS[@]}" || check_rc=1
    ((check_rc == 0)) && echo "  every count equal" || echo "  COUNTS DIFFER (see MISMATCH above)"
fi

# The subscriber the load runs read as: 公安 (every row and field in
# clear), or, under another policy, its first subscriber.
bench_sub() {
    if grep -q '^subscriber\.gongan\.' "$WORK/bench.policy"; then
        echo gongan
    else
        bench_subs | head -1
    fi
}
# gh_e2e_load from 综治's register to bench_sub's view topic (built and
# given a grid on first use); further arguments follow.
e2e_load() {
    if [[ -z ${E2E_GRID:-} ]]; then
        cmake --build build-bench -j"$(nproc)" --target gh_e2e_load >/dev/null
        E2E_GRID=$(psql -tAd zongzhi -c "SELECT wgbm FROM zz_wg ORDER BY wgbm LIMIT 1")
    fi
    "$ROOT/build-bench/gh_e2e_load" --conninfo "$CI dbname=zongzhi" --bootstrap "$BS" \
        --topic "hub.view.$(bench_sub).person" --grid "$E2E_GRID" "$@"
}

# ---- commit-to-subscriber latency at steady offered loads -----------------
if [[ -n $LATENCY ]]; then
    rates=${LATENCY%%:*} dur=20
    [[ $LATENCY == *:* ]] && dur=${LATENCY#*:}
    echo "== commit in 综治's register -> $(bench_sub)'s view topic, new residents, open loop, $(nproc) cores shared by everything"
    for rate in ${rates//,/ }; do
        echo "  at $rate/s for $dur s:"
        e2e_load --rate "$rate" --seconds "$dur" | sed 's/^/    /' ||
            echo "    (rows missing: see above)"
    done
fi
# ---- fail-over: a second instance, the first killed -----------------------
if [[ -n $FAILOVER ]]; then
    start_hub hub2
    HUBS+=(hub2)
    for _ in $(seq 600); do grep -q "partitions assigned" "$WORK/hub2.log" && break; sleep 0.1; done
    sleep 3 # the first instance's share settles too
    echo "== fail-over: two hub instances; the first killed (SIGKILL) 10 s into 40 s of 200 new residents/s"
    for i in hub hub2; do
        grep "partitions assigned" "$WORK/$i.log" | tail -1 | sed "s/^.*kafka: [^:]*: /  before, $i: /"
    done
    e2e_load --rate 200 --seconds 40 --wait 120 >"$WORK/failover.txt" 2>&1 &
    load=$!
    sleep 10
    kill -KILL "$(proc_pid hub)"
    killed=$(date +%s.%N)
    unset "PROC_PID[hub]"
    wait "$load" || true
    sed 's/^/  /' "$WORK/failover.txt"
    taken=$(grep "partitions assigned" "$WORK/hub2.log" | tail -1)
    [[ -n $taken ]] && printf '  the survivor took the partitions over %.1f s after the kill (%s)\n' \
        "$(echo "$(date -d "$(cut -c1-23 <<<"$taken")" +%s.%N) - $killed" | bc -l)" "${taken##*kafka: }"
fi

echo "== peak memory (VmHWM) and the hub database"
for name in broker "${DEPTS[@]/#/connector.}" "${HUBS[@]}"; do
    pid=$(proc_pid "$name")
    [[ -n $pid && -r /proc/$pid/status ]] || continue
    echo "  $name: $(($(awk '/VmHWM/ {print $2}' "/proc/$pid/status") / 1024)) MiB"
done
hubsql -tAd hub -c "SELECT '  hub database: ' || pg_size_pretty(pg_database_size('hub'))"
# The hub's own account of where its time went, printed when it stops.
echo "== the hub's time per stage (its closing lines)"
for name in "${HUBS[@]}"; do
    [[ -n $(proc_pid "$name") ]] || continue
    proc_stop "$name" || true
    grep -E "time \(ms\)|views time" "$WORK/$name.log" | sed "s/^.*INFO  *[a-z]*: /  $name: /"
done

if [[ -z $API ]]; then exit "$check_rc"; fi
# ---- the API: lookups by ID number at a fixed rate -------------------------
rates=${API%%:*} dur=20
[[ $API == *:* ]] && dur=${API#*:}
cmake --build build-bench -j"$(nproc)" --target gh_api_load >/dev/null
tsub=$(bench_sub)
api_props=(-X "database.conninfo=$CI_HUB dbname=hub" -X "policy.file=$WORK/bench.policy"
    -X "policy.keys.file=$WORK/bench.keys" -X "bootstrap.servers=$BS" -X "source.topics=$topics")
tok=$("$GH" token create "${api_props[@]}" --token-subscriber "$tsub" --token-role subscriber | grep '^gh_')
proc_start api "$WORK/api.log" "$WORK/api.log" "$GH" api "${api_props[@]}" \
    --api-listen 127.0.0.1:0 --api-listen-file "$WORK/api.url" -X api.rate.limit.per.second=0
for _ in $(seq 100); do [[ -s "$WORK/api.url" ]] && break; sleep 0.1; done
psql -tAd gongan -c "SELECT '/v1/persons?id_number=' || gmsfhm FROM ga_hjrk WHERE gmsfhm IS NOT NULL
    AND zxbz = '0' ORDER BY md5(gmsfhm) LIMIT 20000" >"$WORK/paths.txt"
LOAD=$ROOT/build-bench/gh_api_load
echo "== gridhub api: GET /v1/persons?id_number= ($(wc -l <"$WORK/paths.txt") IDs from 公安's register, token of $tsub, $(nproc) cores shared with the load generator)"
for rate in ${rates//,/ }; do
    "$LOAD" --url "$(cat "$WORK/api.url")" --token "$tok" --paths "$WORK/paths.txt" --rate "$rate" --seconds 3 >/dev/null
    echo "  at $rate/s for $dur s:"
    "$LOAD" --url "$(cat "$WORK/api.url")" --token "$tok" --paths "$WORK/paths.txt" --rate "$rate" --seconds "$dur" | sed 's/^/    /'
done
echo "  api peak RSS: $(($(awk '/VmHWM/ {print $2}' "/proc/$(proc_pid api)/status") / 1024)) MiB"
hubsql -tAd hub -c "SELECT '  audit entries written by the API: ' || count(*) FROM audit_log WHERE entry::jsonb ->> 'command' = 'api'"
exit "$check_rc"
