# Background processes of the ops scripts (demo, benchmarks), stopped in
# dependency order and never waited for without a bound. Sourced.
#
#   proc_start NAME OUT ERR CMD...  run CMD in the background, stdout to OUT
#                                   and stderr to ERR (may be the same file)
#   proc_pid NAME                   its pid
#   proc_alive NAME                 exit 0 while it runs
#   proc_stop NAME [SECONDS]        SIGTERM, wait up to SECONDS (default
#                                   PROC_STOP_S, 15: the components'
#                                   shutdown.timeout.ms is 10 s); if it is
#                                   still there, say so, show the end of its
#                                   log, SIGKILL it and return 1
#   proc_stop_all                   proc_stop every process still running:
#                                   generator, connectors, hub, subscribers,
#                                   the broker, then anything else; returns 1
#                                   if any had to be killed
#   proc_report                     each process still running, with the
#                                   end of its log (for a watchdog)
#
# Names decide the order: gen*, connector*, hub*, tail*/subscriber*,
# broker*, the rest. PROC_STATUS[NAME] holds each stopped process's exit
# status (128+N: killed by signal N).

declare -A PROC_PID=() PROC_LOG=() PROC_STATUS=()
PROC_NAMES=()
PROC_STOP_S=${PROC_STOP_S:-15}

proc_start() {
    local name=$1 out=$2 err=$3
    shift 3
    if [[ "$out" == "$err" ]]; then
        "$@" >"$out" 2>&1 &
    else
        "$@" >"$out" 2>"$err" &
    fi
    PROC_PID[$name]=$!
    PROC_LOG[$name]=$err
    PROC_NAMES+=("$name")
    if [[ -n "${PROC_PIDFILE:-}" ]]; then echo "$!" >>"$PROC_PIDFILE"; fi
}

proc_pid() { echo "${PROC_PID[$1]:-}"; }

proc_alive() {
    local pid=${PROC_PID[$1]:-}
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

proc_stop() {
    local name=$1 limit=${2:-$PROC_STOP_S} pid=${PROC_PID[$1]:-} i rc=0
    [[ -n "$pid" ]] || return 0
    unset "PROC_PID[$name]"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < limit * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "$name (pid $pid) did not stop within $limit s of SIGTERM; the end of ${PROC_LOG[$name]}:" >&2
        tail -n 15 "${PROC_LOG[$name]}" 2>/dev/null | sed 's/^/    /' >&2
        kill -KILL "$pid" 2>/dev/null || true
        rc=1
    fi
    wait "$pid" 2>/dev/null
    PROC_STATUS[$name]=$?
    return "$rc"
}

proc_rank() {
    case $1 in
    gen*) echo 0 ;;
    connector*) echo 1 ;;
    hub*) echo 2 ;;
    tail* | subscriber*) echo 3 ;;
    broker*) echo 4 ;;
    *) echo 5 ;;
    esac
}

proc_stop_all() {
    local rank name rc=0
    for rank in 0 1 2 3 4 5; do
        for name in "${PROC_NAMES[@]}"; do
            [[ -n "${PROC_PID[$name]:-}" && $(proc_rank "$name") == "$rank" ]] || continue
            proc_stop "$name" || rc=1
        done
    done
    return "$rc"
}

proc_report() {
    local name
    for name in "${PROC_NAMES[@]}"; do
        proc_alive "$name" || continue
        echo "  $name (pid ${PROC_PID[$name]}) is running; the end of ${PROC_LOG[$name]}:" >&2
        tail -n 8 "${PROC_LOG[$name]}" 2>/dev/null | sed 's/^/      /' >&2
    done
}
