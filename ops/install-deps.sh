#!/usr/bin/env bash
# Installs the Debian packages gridhub needs to build and test.
#
# Idempotent: asks dpkg which packages are missing and does nothing at all
# (not even `apt-get update`) when none are. As root it installs directly;
# otherwise through sudo when available, else it names the missing packages
# and exits 1.
#
# Usage: ops/install-deps.sh [--check]
#   --check   only report missing packages (exit 1 if any), install nothing
set -euo pipefail

PACKAGES=(
    build-essential       # gcc, make, libc headers
    cmake
    pkg-config
    git
    librdkafka-dev        # Kafka client
    libavro-dev           # avro-c
    libpq-dev             # PostgreSQL client library
    libcurl4-openssl-dev  # schema registry client
    libssl-dev            # libcrypto (hashing, HMAC, Ed25519 signed tree heads)
    openssl               # tests: an independent Ed25519 check of signed tree heads
    libjansson-dev        # JSON
    libopencc-dev         # traditional -> simplified Chinese names
    libicu-dev            # NFKC and Han -> Latin (pinyin) for names
    libmicrohttpd-dev     # the /metrics and /health endpoint of each component
    libcriterion-dev      # test framework
    postgresql            # server for the integration tests
    postgresql-contrib
    python3               # helper scripts
    python3-avro          # tests/tools/std_consume.py: decoding with standard
    python3-confluent-kafka #   tools only (/usr/bin/python3, not a pyenv one)
    python3-cryptography  # tests/tools/unseal.py: sealed values opened apart
    clang-format          # style check in ops/test.sh
    clang                 # fuzz targets (ops/fuzz.sh), Debian 12: clang 14
    libclang-rt-dev       # its libFuzzer, ASan, UBSan runtimes (only recommended)
    procps                # ps/pkill used by tests
    iproute2              # ss, used by ops/pg-cluster.sh to find a free port
    curl                  # the demo's requests to gridhub api
)

check_only=0
case "${1:-}" in
    "") ;;
    --check) check_only=1 ;;
    -h | --help)
        sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "install-deps: unknown argument '$1' (try --help)" >&2
        exit 2
        ;;
esac

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    if [[ "$status" != "installed" ]]; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#PACKAGES[@]} packages present"
    exit 0
fi

if ((check_only)); then
    echo "install-deps: missing packages: ${missing[*]}" >&2
    exit 1
fi

if [[ $(id -u) -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo env DEBIAN_FRONTEND=noninteractive)
else
    echo "install-deps: not root and sudo is not available; missing packages:" >&2
    echo "  ${missing[*]}" >&2
    echo "install them as root with:" >&2
    echo "  apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]}"

# apt output goes to a log that is shown only when a step fails.
log=$(mktemp "${TMPDIR:-/tmp}/gh-install-deps.XXXXXX")
trap 'rm -f "$log"' EXIT

run_apt() {
    local what=$1
    shift
    if ! "${SUDO[@]}" "$@" >"$log" 2>&1; then
        echo "install-deps: $what failed:" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
}

run_apt "apt-get update" apt-get -q update
run_apt "apt-get install" apt-get install -y -q --no-install-recommends \
    "${missing[@]}"
echo "install-deps: done"
