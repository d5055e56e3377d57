#!/usr/bin/env bash
# The project's test command (CI runs it through .ci/run).
#
#   1. install missing Debian packages       (ops/install-deps.sh)
#   2. clang-format check                    (if clang-format is installed)
#      policy oracle, RFC 6962 self-tests    (tests/tools, Python stdlib)
#   3. build build/      RelWithDebInfo, -Werror
#   4. build build-asan/ Debug, ASan + UBSan (skipped if GH_TEST_SKIP_ASAN=1)
#      fuzz (bounded): ops/fuzz.sh, every libFuzzer target for a few seconds
#      after replaying its regression inputs (build-fuzz/, clang)
#   5. start a throwaway PostgreSQL cluster  (ops/pg-cluster.sh, stopped on exit)
#   6. docs/configuration.md up to date      (if gridhub has `config-doc`)
#   7. unit and integration tests of each build
#
# The integration suite (~70 tests, each spawning a broker, connectors and
# hubs against the one cluster) runs once, in build-asan, two tests at a time
# (--jobs 2): its tests mostly wait (for log lines, idle topics, timeouts),
# using about a fifth of two cores one at a time, so two at a time nearly
# halve its wall time (~15.5 min to ~9 on 2 cores) with every test still run,
# under the sanitizers. They can share the cluster because each test has its
# own databases, replication slot names, broker (ephemeral ports) and scratch
# directory; a new test must keep it so (tests/README.md). The shutdown suite
# (INTEGRATION_ALONE) then runs one test at a time with nothing beside it:
# its assertions leave the hub a second past its budget to close its Kafka
# clients, which beside another test it sometimes missed (rd_kafka_destroy
# taking ~1 s). One Criterion run excludes what the other selects
# (--filter '!(P)' and '@(P)'), so every test runs exactly once.
#
# Ends with a line "N passed, N failed" counting the steps; exits non-zero if
# any step failed.
#
# Environment:
#   GH_TEST_SKIP_ASAN=1   skip the sanitizer build and its tests (local runs)
#   GH_TEST_INTEGRATION_BUILDS="build build-asan"  run the integration suite in
#                         these builds (default: build-asan only)
#   GH_TEST_INTEGRATION_JOBS=N  integration tests run at a time (default 2;
#                         1 runs them one by one, as when chasing a flaky test)
#   GH_TEST_FILTER=GLOB   pass --filter GLOB to the Criterion binaries (the
#                         integration tests it picks then run one at a time
#                         unless GH_TEST_INTEGRATION_JOBS is set)
#   GH_TEST_PGDIR=DIR     put the PostgreSQL cluster in DIR (default: mktemp;
#                         a given DIR is kept afterwards)
#   GH_TEST_FUZZ_SECONDS  seconds per fuzz target (default 10; 0 replays the
#                         regression inputs and the corpus only)
#   GH_TEST_FUZZ_SEED     libFuzzer's seed (default 1, so that a run fails or
#                         passes the same way again; 'random' for a new one)
#   GH_TEST_UNIT_TIMEOUT, GH_TEST_INTEGRATION_TIMEOUT
#                         wall-clock limit per test binary, seconds
#                         (default 900 and 1800)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT" || exit 1

JOBS=$(nproc 2>/dev/null || echo 2)
UNIT_TIMEOUT=${GH_TEST_UNIT_TIMEOUT:-900}
INTEGRATION_JOBS=${GH_TEST_INTEGRATION_JOBS:-2}
# Integration tests that run alone, after the others (a Criterion pattern;
# alternatives separated by '|'): their assertions allow a second or less
# past a shutdown budget.
INTEGRATION_ALONE='shutdown/*'
INTEGRATION_TIMEOUT=${GH_TEST_INTEGRATION_TIMEOUT:-1800}
if [[ ! "$INTEGRATION_JOBS" =~ ^[1-9][0-9]*$ ]]; then
    echo "GH_TEST_INTEGRATION_JOBS must be a positive integer, not '$INTEGRATION_JOBS'" >&2
    exit 2
fi

passed=0
failed=0
skipped=0
failed_names=()
failed_tests=()
START=$SECONDS
STEP_LOGS=$(mktemp -d "${TMPDIR:-/tmp}/gh-test-logs.XXXXXX")
# TMPDIR of the test binaries: their logs and scratch files, kept on failure.
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/gh-test-run.XXXXXX")
PGDIR=""

cleanup() {
    if [[ -n "$PGDIR" ]]; then
        ops/pg-cluster.sh stop "$PGDIR" >/dev/null 2>&1 || true
        if [[ -z "${GH_TEST_PGDIR:-}" ]]; then
            rm -rf "$PGDIR"
        fi
    fi
    rm -rf "$STEP_LOGS"
    if ((failed == 0)); then
        rm -rf "$TEST_TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

banner() { printf '\n==> %s\n' "$*"; }

record() { # record NAME RC SECONDS
    if (($2 == 0)); then
        passed=$((passed + 1))
        printf -- '--- PASS: %s (%ds)\n' "$1" "$3"
    else
        failed=$((failed + 1))
        failed_names+=("$1")
        printf -- '--- FAIL: %s (exit %d, %ds)\n' "$1" "$2" "$3"
    fi
}

skip() { # skip NAME REASON
    skipped=$((skipped + 1))
    printf -- '--- SKIP: %s (%s)\n' "$1" "$2"
}

# step NAME CMD...: runs CMD with its output shown; returns its status.
step() {
    local name=$1 t0=$SECONDS rc
    shift
    banner "$name"
    "$@"
    rc=$?
    record "$name" "$rc" $((SECONDS - t0))
    # Ctrl-C that a child turned into exit status 130 (timeout does): bash
    # then does not run the INT trap itself.
    if ((rc == 130)); then
        echo "interrupted"
        exit 130
    fi
    return "$rc"
}

# quiet_step NAME CMD...: as step, but output is shown only on failure.
quiet_step() {
    local name=$1 t0=$SECONDS rc log
    shift
    banner "$name"
    log="$STEP_LOGS/step.log"
    "$@" >"$log" 2>&1
    rc=$?
    if ((rc != 0)); then
        cat "$log"
    fi
    record "$name" "$rc" $((SECONDS - t0))
    return "$rc"
}

summary() {
    echo
    if ((skipped > 0)); then
        echo "($skipped step(s) skipped)"
    fi
    if ((${#failed_tests[@]} > 0)); then
        echo "failing tests (their lines from the runs above):"
        printf '  %s\n' "${failed_tests[@]}"
    fi
    if ((failed > 0)); then
        echo "failed: ${failed_names[*]}"
        echo "test logs and scratch files kept in $TEST_TMP"
    fi
    echo "total time: $((SECONDS - START))s"
    echo "$passed passed, $failed failed"
}

# ---- 1. dependencies -------------------------------------------------------

if ! step "install-deps" ops/install-deps.sh; then
    summary
    exit 1
fi

# ---- 2. formatting ---------------------------------------------------------

format_check() {
    local files=()
    mapfile -t files < <(find hub connectors include tests \
        -path tests/data -prune -o \( -name '*.c' -o -name '*.h' \) -print \
        2>/dev/null | sort)
    if ((${#files[@]} == 0)); then
        echo "no C sources found"
        return 0
    fi
    echo "checking ${#files[@]} files"
    clang-format --dry-run --Werror "${files[@]}"
}

if command -v clang-format >/dev/null 2>&1; then
    step "clang-format" format_check
else
    skip "clang-format" "clang-format not installed"
fi

# ---- 2b. tools ------------------------------------------------------------

# The independent policy evaluator the leakage test relies on (well under a
# second; Debian's python3, standard library only).
if [[ -x /usr/bin/python3 ]]; then
    quiet_step "policy oracle self-test" \
        /usr/bin/python3 tests/tools/test_policy_oracle.py
    # The independent Merkle implementation the audit tests check proofs with.
    quiet_step "RFC 6962 verifier self-test" \
        /usr/bin/python3 tests/tools/test_rfc6962.py
else
    skip "policy oracle self-test" "/usr/bin/python3 not installed"
    skip "RFC 6962 verifier self-test" "/usr/bin/python3 not installed"
fi

# ---- 3/4. builds -----------------------------------------------------------

build() { # build DIR CMAKE_ARGS...
    local dir=$1
    shift
    cmake -S . -B "$dir" "$@" && cmake --build "$dir" -j "$JOBS"
}

# A build that failed leaves no trustworthy test binaries (old ones may
# remain), so its tests are counted as failed without running them.
declare -A build_ok=()
builds=(build)
if quiet_step "build (RelWithDebInfo, -Werror)" \
    build build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGH_WERROR=ON; then
    build_ok[build]=1
fi

if [[ "${GH_TEST_SKIP_ASAN:-}" == 1 ]]; then
    skip "build-asan" "GH_TEST_SKIP_ASAN=1"
else
    builds+=(build-asan)
    if quiet_step "build-asan (Debug, ASan+UBSan)" \
        build build-asan -DCMAKE_BUILD_TYPE=Debug -DGH_SANITIZE=ON \
        -DGH_WERROR=ON; then
        build_ok[build-asan]=1
    fi
fi

# ---- 4b. fuzzing ----------------------------------------------------------

# A short run of every target (the long one is ops/fuzz.sh alone). Without
# clang it fails, naming the packages: install-deps installs them. A fixed
# seed: the test command passes or fails the same way on the same tree;
# exploring new inputs is what ops/fuzz.sh run alone is for.
fuzz_seed=(--seed "${GH_TEST_FUZZ_SEED:-1}")
if [[ ${GH_TEST_FUZZ_SEED:-} == random ]]; then
    fuzz_seed=()
fi
step "fuzz (bounded)" ops/fuzz.sh --seconds "${GH_TEST_FUZZ_SECONDS:-10}" \
    "${fuzz_seed[@]}"

# ---- 5. PostgreSQL ---------------------------------------------------------

start_pg() {
    local out
    PGDIR=${GH_TEST_PGDIR:-$(mktemp -d "${TMPDIR:-/tmp}/gh-pg.XXXXXX")}
    out=$(ops/pg-cluster.sh start "$PGDIR") || return 1
    eval "$out"
    export GH_TEST_PGHOST=$PGHOST GH_TEST_PGPORT=$PGPORT GH_TEST_PGUSER=$PGUSER
    echo "$out"
}

pg_ok=0
if step "postgresql cluster" start_pg; then
    pg_ok=1
fi

# ---- 6. generated docs -----------------------------------------------------

config_doc_check() {
    local out rc
    out=$(mktemp "${TMPDIR:-/tmp}/gh-config-doc.XXXXXX")
    if ! build/gridhub config-doc >"$out"; then
        rm -f "$out"
        echo "build/gridhub config-doc failed"
        return 1
    fi
    diff -u docs/configuration.md "$out"
    rc=$?
    rm -f "$out"
    if ((rc != 0)); then
        echo "docs/configuration.md is out of date; regenerate it with:"
        echo "  build/gridhub config-doc > docs/configuration.md"
    fi
    return "$rc"
}

gridhub_help=""
if [[ -n "${build_ok[build]:-}" && -x build/gridhub ]]; then
    gridhub_help=$(build/gridhub --help 2>&1 </dev/null || true)
fi
if [[ "$gridhub_help" == *config-doc* ]]; then
    step "config-doc up to date" config_doc_check
else
    skip "config-doc" "build/gridhub has no config-doc command"
fi

# ---- 7. tests --------------------------------------------------------------

criterion_args=()
if [[ -n "${GH_TEST_FILTER:-}" ]]; then
    criterion_args+=(--filter "$GH_TEST_FILTER")
fi

# run_bin OUT TIMEOUT BIN ARGS...: runs a test binary under the wall-clock
# limit with the environment in run_tests' envs, its output shown and
# appended to OUT; returns its status.
run_bin() {
    local out=$1 timeout_s=$2 bin=$3 rc
    shift 3
    # --foreground keeps the binary in our process group so that Ctrl-C
    # reaches it; Criterion's workers die with the runner.
    env "${envs[@]}" timeout --foreground --kill-after=30 "$timeout_s" \
        "$bin" "$@" 2>&1 | tee -a "$out"
    rc=${PIPESTATUS[0]}
    if ((rc == 124)); then
        echo "$bin timed out after ${timeout_s}s"
    fi
    return "$rc"
}

run_tests() { # run_tests BUILD_DIR KIND
    local dir=$1 kind=$2 bin out rc rc2
    local -a envs=(TMPDIR="$TEST_TMP")
    bin="$dir/tests/gh_${kind}_tests"
    if [[ "$dir" == build-asan ]]; then
        envs+=(ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1)
    fi
    if [[ "$kind" == integration ]] && ((!pg_ok)); then
        echo "PostgreSQL cluster is not running"
        return 1
    fi
    out=$(mktemp "${TMPDIR:-/tmp}/gh-test-out.XXXXXX")
    if [[ "$kind" != integration ]]; then
        run_bin "$out" "$UNIT_TIMEOUT" "$bin" "${criterion_args[@]}"
        rc=$?
    elif [[ -n "${GH_TEST_FILTER:-}" ]]; then
        # A filter of one's own cannot be split as below: the tests it
        # picks run one at a time unless GH_TEST_INTEGRATION_JOBS says.
        run_bin "$out" "$INTEGRATION_TIMEOUT" "$bin" "${criterion_args[@]}" \
            --jobs "${GH_TEST_INTEGRATION_JOBS:-1}"
        rc=$?
    else
        # All but INTEGRATION_ALONE two at a time, then those one by one
        # (see the header): the two filters split the suite exactly.
        run_bin "$out" "$INTEGRATION_TIMEOUT" "$bin" \
            --jobs "$INTEGRATION_JOBS" --filter "!($INTEGRATION_ALONE)"
        rc=$?
        if ((rc != 130)); then
            echo "-- one at a time: $INTEGRATION_ALONE"
            run_bin "$out" "$INTEGRATION_TIMEOUT" "$bin" \
                --jobs 1 --filter "@($INTEGRATION_ALONE)"
            rc2=$?
            if ((rc == 0 || rc2 == 130)); then
                rc=$rc2
            fi
        fi
    fi
    # Criterion reports a test as passed even when the sanitizer found a
    # leak or undefined behaviour in its worker after the assertions ran.
    if [[ "$dir" == build-asan ]] &&
        grep -qE 'ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:' "$out"; then
        echo "$bin: sanitizer reports above"
        if ((rc == 0)); then
            rc=1
        fi
    fi
    # The failing tests' own lines, repeated in the summary: a CI log is
    # often read from its end only.
    if ((rc != 0)); then
        while IFS= read -r line; do
            failed_tests+=("$dir: $line")
        done < <(sed 's/\x1b\[[0-9;]*m//g' "$out" |
            grep -E -A2 '\[FAIL\]|Assertion [Ff]ailed|CRASH|Timed out|ERROR: (Leak|Address)Sanitizer|runtime error:' |
            grep -vE '^--$|^\[----\] *$|Synthesis' | head -n 40)
    fi
    rm -f "$out"
    return "$rc"
}

# The integration suite spawns real servers and takes minutes; it runs once,
# mostly two tests at a time (see the header), in the sanitizer build, whose
# gridhub child processes are instrumented too (set
# GH_TEST_INTEGRATION_BUILDS="build build-asan" to run it in both).
if [[ -n "${GH_TEST_INTEGRATION_BUILDS:-}" ]]; then
    INTEGRATION_BUILDS=$GH_TEST_INTEGRATION_BUILDS
elif [[ " ${builds[*]} " == *" build-asan "* ]]; then
    INTEGRATION_BUILDS=build-asan
else
    INTEGRATION_BUILDS=build
fi

for dir in "${builds[@]}"; do
    if [[ -z "${build_ok[$dir]:-}" ]]; then
        banner "$dir tests"
        echo "not run: the $dir build failed"
        record "$dir tests" 1 0
        continue
    fi
    if [[ -x "$dir/tests/gh_unit_tests" ]]; then
        step "$dir unit tests" run_tests "$dir" unit
    else
        banner "$dir unit tests"
        echo "the $dir build produced no tests/gh_unit_tests"
        record "$dir unit tests" 1 0
    fi
    if [[ " $INTEGRATION_BUILDS " != *" $dir "* ]]; then
        skip "$dir integration tests" "integration tests run in: $INTEGRATION_BUILDS"
    elif [[ -x "$dir/tests/gh_integration_tests" ]]; then
        step "$dir integration tests" run_tests "$dir" integration
    else
        skip "$dir integration tests" "no $dir/tests/gh_integration_tests"
    fi
done

summary
((failed == 0))
