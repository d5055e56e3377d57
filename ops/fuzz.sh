#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/, clang, in build-fuzz/) and runs
# each for a bounded time on its checked-in corpus, after replaying every
# regression input saved for it.
#
#   ops/fuzz.sh                          every target, 60 s each
#   ops/fuzz.sh --seconds 600 mapping    one target, ten minutes
#   ops/fuzz.sh --seconds 0              replay crashes/ and the corpus only
#   ops/fuzz.sh --seconds 10 --seed 1    the same mutations each run (CI)
#
# Per target:
#   1. each file of tests/fuzz/crashes/<target>/ is run once (a bug fixed
#      stays fixed);
#   2. the target fuzzes for N seconds on build-fuzz/fuzz/corpus/<target>/
#      (what it learns, kept between runs) and tests/fuzz/corpus/<target>/
#      (the seeds, never written), with tests/fuzz/dict/<target>.dict if
#      there is one.
# A crash, leak, timeout, sanitizer report or broken invariant fails the
# target: the script names it and the input libFuzzer saved, and exits 1
# after the other targets ran. To keep a finding as a regression input,
# fix it and copy the input into tests/fuzz/crashes/<target>/.
#
# Needs clang and its libFuzzer runtime (Debian: clang, libclang-rt-dev;
# ops/install-deps.sh installs them); without them it fails, naming them.
#
# Targets run side by side, as many at once as there are cores (each
# libFuzzer process is single-threaded); their reports print in order.
#
# Environment: GH_FUZZ_BUILD_DIR (default build-fuzz), GH_FUZZ_JOBS (build
# parallelism and targets at once, default nproc).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT" || exit 1

BUILD=${GH_FUZZ_BUILD_DIR:-build-fuzz}
JOBS=${GH_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
seconds=60
seed=
targets=()

usage() {
    sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

while (($#)); do
    case "$1" in
        --seconds)
            seconds=${2:-}
            shift 2 || true
            ;;
        --seconds=*)
            seconds=${1#--seconds=}
            shift
            ;;
        --seed)
            seed=${2:-}
            shift 2 || true
            ;;
        --seed=*)
            seed=${1#--seed=}
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        -*)
            echo "fuzz: unknown option '$1' (try --help)" >&2
            exit 2
            ;;
        *)
            targets+=("$1")
            shift
            ;;
    esac
done
if ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
    echo "fuzz: --seconds needs a whole number of seconds" >&2
    exit 2
fi
if [[ -n "$seed" ]] && ! [[ "$seed" =~ ^[1-9][0-9]*$ ]]; then
    echo "fuzz: --seed needs a positive whole number" >&2
    exit 2
fi

all=()
for src in tests/fuzz/fuzz_*.c; do
    name=${src##*/fuzz_}
    all+=("${name%.c}")
done
if ((${#targets[@]} == 0)); then
    targets=("${all[@]}")
fi
for t in "${targets[@]}"; do
    if [[ ! -f tests/fuzz/fuzz_$t.c ]]; then
        echo "fuzz: no target '$t' (targets: ${all[*]})" >&2
        exit 2
    fi
done

# ---- toolchain ---------------------------------------------------------

if ! command -v clang >/dev/null 2>&1; then
    echo "fuzz: clang not found; install it with ops/install-deps.sh" \
        "(Debian packages clang and libclang-rt-dev)" >&2
    exit 1
fi
probe=$(mktemp -d "${TMPDIR:-/tmp}/gh-fuzz-probe.XXXXXX")
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n)\n%s\n' \
    '{ return d && n ? 0 : 0; }' >"$probe/probe.c"
if ! clang -fsanitize=fuzzer,address,undefined "$probe/probe.c" \
    -o "$probe/probe" >"$probe/log" 2>&1; then
    cat "$probe/log" >&2
    echo "fuzz: clang cannot link a libFuzzer target; install the runtime" \
        "with ops/install-deps.sh (Debian package libclang-rt-dev)" >&2
    exit 1
fi

# ---- build -------------------------------------------------------------

echo "fuzz: building $BUILD/ (clang, GH_FUZZ=ON)"
if ! { cmake -S . -B "$BUILD" -DCMAKE_C_COMPILER=clang -DGH_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >"$probe/log" &&
    cmake --build "$BUILD" -j "$JOBS" --target gh_fuzz >>"$probe/log"; } 2>&1; then
    tail -n 60 "$probe/log" >&2
    echo "fuzz: the build of $BUILD/ failed" >&2
    exit 1
fi

# ---- run ---------------------------------------------------------------

# libFuzzer's defaults report leaks too; UBSan stops at the first report
# (-fno-sanitize-recover) and should say where it came from.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

failed=()

# replay TARGET: runs each regression input once.
replay() {
    local t=$1 bin=$BUILD/tests/fuzz/fuzz_$1 f n=0
    for f in tests/fuzz/crashes/"$t"/*; do
        [[ -f "$f" ]] || continue
        n=$((n + 1))
        if ! "$bin" "$f" >"$probe/replay.$t.log" 2>&1; then
            tail -n 40 "$probe/replay.$t.log"
            echo "fuzz: $t: FAILED on regression input $f"
            return 1
        fi
    done
    echo "fuzz: $t: $n regression input(s) pass"
}

# fuzz TARGET: runs the fuzzer for $seconds on the corpus.
fuzz() {
    local t=$1 bin=$BUILD/tests/fuzz/fuzz_$1 rc
    local work=$BUILD/fuzz/corpus/$t art=$BUILD/fuzz/artifacts/$t
    local log=$BUILD/fuzz/logs/$t.log
    local -a args=(-timeout=25 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$art/")
    mkdir -p "$work" "$art" "${log%/*}"
    if [[ -f tests/fuzz/dict/$t.dict ]]; then
        args+=(-dict="tests/fuzz/dict/$t.dict")
    fi
    if [[ $t == avro ]]; then
        # Seeds of today's schemas (the checked-in ones may predate them).
        "$BUILD/tests/fuzz/avro_seeds" "$work" || return 1
    fi
    if ((seconds == 0)); then
        args+=(-runs=0)
    else
        args+=(-max_total_time="$seconds")
    fi
    if [[ -n "$seed" ]]; then
        args+=(-seed="$seed")
    fi
    "$bin" "${args[@]}" "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    if ((rc != 0)); then
        grep -v '^#[0-9]' "$log" | tail -n 60
        echo "fuzz: $t: FAILED (exit $rc); input saved:" \
            "$(grep -o 'written to .*' "$log" | sed 's/^written to //' |
                tail -n 1)"
        echo "fuzz: $t: replay with $bin FILE; full log $log"
        return 1
    fi
    echo "fuzz: $t: ok, $(grep -m1 -o 'Done [0-9]* runs in [0-9]* second' \
        "$log" | sed 's/Done //;s/ second/ s/')" \
        "($(grep -o 'cov: [0-9]*' "$log" | tail -n 1))"
}

# One target's replay and fuzzing, its report kept for printing in order.
one() {
    local t=$1
    if replay "$t" && fuzz "$t"; then
        echo 0 >"$probe/rc.$t"
    else
        echo 1 >"$probe/rc.$t"
    fi
}

# Stopped, the targets running stop too (the fuzzers are the jobs'
# children).
stop_jobs() {
    local j
    for j in $(jobs -p); do
        pkill -TERM -P "$j" 2>/dev/null
        kill -TERM "$j" 2>/dev/null
    done
    exit 130
}
trap stop_jobs INT TERM

running=0
for t in "${targets[@]}"; do
    if ((running >= JOBS)); then
        wait -n
        running=$((running - 1))
    fi
    one "$t" >"$probe/out.$t" 2>&1 &
    running=$((running + 1))
done
wait
for t in "${targets[@]}"; do
    cat "$probe/out.$t"
    if [[ "$(cat "$probe/rc.$t" 2>/dev/null)" != 0 ]]; then
        failed+=("$t")
    fi
done

if ((${#failed[@]})); then
    echo "fuzz: failed: ${failed[*]}"
    exit 1
fi
echo "fuzz: ${#targets[@]} target(s) passed"
