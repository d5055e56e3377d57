# Shared set-up of the benchmark scripts (ops/bench.sh, ops/bench-hub.sh),
# sourced from the repository root: installs what is missing, builds a
# Release gridhub in build-bench/, makes a work directory (kept with
# GH_BENCH_KEEP=1) and starts a throwaway PostgreSQL cluster in it, all
# stopped and removed on exit. Sets GH, WORK and the PG* variables of the
# cluster; start background processes with proc_start (ops/lib/procs.sh),
# which the clean-up stops in dependency order.
#
#   bench_setup NAME    # NAME: the work directory's prefix

# shellcheck source=ops/lib/procs.sh
. ops/lib/procs.sh

bench_setup() {
    ./ops/install-deps.sh >/dev/null
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
    cmake --build build-bench -j"$(nproc)" --target gridhub >/dev/null
    GH=$ROOT/build-bench/gridhub
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    chmod 755 "$WORK" # the PostgreSQL server user must reach its data directory
    trap bench_cleanup EXIT
    eval "$(./ops/pg-cluster.sh start "$WORK/pg" 2>/dev/null)"
}

bench_cleanup() {
    local rc=$?
    proc_stop_all || rc=1
    local c
    for c in "$WORK"/pg*; do # the benchmark may have started more than one
        [[ -d $c ]] && { ./ops/pg-cluster.sh stop "$c" >/dev/null 2>&1 || true; }
    done
    if [[ -n "${GH_BENCH_KEEP:-}" ]]; then
        echo "bench: logs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
