#!/usr/bin/env bash
# Manages a throwaway PostgreSQL cluster for tests and local development.
#
# Usage:
#   ops/pg-cluster.sh start  <dir> [port]  create (first time) and start
#   ops/pg-cluster.sh stop   <dir>         fast shutdown; no-op if not running
#   ops/pg-cluster.sh status <dir>         exit 0 if running, 3 if not
#   ops/pg-cluster.sh env    <dir>         print the client environment
#
# Layout: <dir>/data (PGDATA), <dir>/sock (unix socket), <dir>/log (server
# log), <dir>/env (the `export PG...` line, for `source`).
#
# `start` prints only the export line on stdout (progress goes to stderr), so
#   eval "$(ops/pg-cluster.sh start /tmp/pg)"
# sets PGHOST/PGPORT/PGUSER for psql and libpq clients.
#
# The cluster is for tests only: it listens on 127.0.0.1 alone and trusts
# every local and loopback connection (no passwords). The superuser role is
# `gridhub` whatever OS user runs the server. PostgreSQL refuses to run as
# root, so as root the server runs as the `postgres` system user (or a
# `gridhub` system user created on demand); otherwise as the calling user.
#
# Environment: PG_BINDIR overrides where initdb/pg_ctl are looked for
# (default: the newest /usr/lib/postgresql/*/bin, then $PATH).
set -euo pipefail

PROG=pg-cluster
SUPERUSER=gridhub

usage() {
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

say() { echo "$PROG: $*" >&2; }

# fail STEP MESSAGE: a step failed before the server was involved.
fail() {
    local step=$1
    shift
    say "$step failed: $*"
    exit 1
}

# die STEP MESSAGE: names the step that failed and shows the end of the log.
die() {
    local step=$1
    shift
    say "$step failed: $*"
    if [[ -n "${DIR:-}" && -s "$DIR/log" ]]; then
        say "last lines of $DIR/log:"
        tail -n 25 "$DIR/log" | sed 's/^/    /' >&2
    fi
    exit 1
}

find_bindir() {
    if [[ -n "${PG_BINDIR:-}" ]]; then
        [[ -x "$PG_BINDIR/pg_ctl" ]] ||
            fail "locating PostgreSQL" "PG_BINDIR=$PG_BINDIR has no pg_ctl"
        echo "$PG_BINDIR"
        return
    fi
    local d dirs
    dirs=(/usr/lib/postgresql/*/bin)
    d=$(printf '%s\n' "${dirs[@]}" | sort -V | tail -n 1)
    if [[ -n "$d" && -x "$d/initdb" ]]; then
        echo "$d"
        return
    fi
    if command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return
    fi
    fail "locating PostgreSQL" \
        "no initdb in /usr/lib/postgresql/*/bin or \$PATH" \
        "(install the postgresql package: ops/install-deps.sh)"
}

# The OS user the server runs as: as root, `postgres` (or a `gridhub` system
# user, created if needed); otherwise the caller.
pick_run_user() {
    if [[ $(id -u) -ne 0 ]]; then
        id -un
    elif id -u postgres >/dev/null 2>&1; then
        echo postgres
    else
        if ! id -u gridhub >/dev/null 2>&1; then
            useradd --system --no-create-home --shell /usr/sbin/nologin \
                gridhub >&2 || fail "creating system user gridhub" "useradd"
        fi
        echo gridhub
    fi
}

# as_user CMD...: run CMD as $RUN_USER, from a directory that user can read.
as_user() {
    if [[ $(id -u) -eq 0 && "$RUN_USER" != root ]]; then
        (cd "$DIR" && runuser -u "$RUN_USER" -- "$@")
    else
        (cd "$DIR" && "$@")
    fi
}

port_in_use() {
    local p=$1
    if command -v ss >/dev/null 2>&1; then
        [[ -n "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]]
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null
    fi
}

# Below the kernel's default ephemeral range (32768-60999), so an outgoing
# connection cannot be holding the port we pick.
pick_port() {
    local _ p
    for _ in $(seq 1 200); do
        p=$((15000 + RANDOM % 17000))
        if ! port_in_use "$p"; then
            echo "$p"
            return
        fi
    done
    fail "choosing a port" "no free port found in 15000-31999"
}

is_running() {
    [[ -f "$DIR/data/PG_VERSION" ]] &&
        as_user "$BINDIR/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1
}

write_env() {
    echo "export PGHOST=127.0.0.1 PGPORT=$1 PGUSER=$SUPERUSER" >"$DIR/env"
}

sql_quote() { printf "'%s'" "${1//\'/\'\'}"; }

cmd_start() {
    local port=${1:-} auto_port=0 attempt log_size

    if [[ -n "$port" && ! "$port" =~ ^[0-9]+$ ]]; then
        fail "parsing arguments" "port '$port' is not a number"
    fi

    mkdir -p "$DIR" || fail "creating $DIR" "mkdir"
    DIR=$(cd "$DIR" && pwd -P)

    # The socket path must fit in sun_path (107 bytes with the file name).
    if ((${#DIR} + 20 > 107)); then # 20: "/sock/.s.PGSQL.65535"
        fail "checking the directory" \
            "'$DIR' is too long for a unix socket path; use a shorter one"
    fi

    if [[ -f "$DIR/data/PG_VERSION" ]]; then
        RUN_USER=$(stat -c %U "$DIR/data")
        if [[ $(id -u) -ne 0 && "$RUN_USER" != "$(id -un)" ]]; then
            fail "checking $DIR/data" "owned by $RUN_USER; run as that user or root"
        fi
        if is_running; then
            say "already running in $DIR"
            cat "$DIR/env"
            return 0
        fi
    else
        RUN_USER=$(pick_run_user)
    fi

    if [[ -z "$port" ]]; then
        auto_port=1
        port=$(pick_port)
    elif port_in_use "$port"; then
        fail "checking port $port" "something already listens on it;" \
            "choose another or omit the port to pick a free one"
    fi

    mkdir -p "$DIR/sock"
    touch "$DIR/log"
    if [[ $(id -u) -eq 0 ]]; then
        chown -R "$RUN_USER:" "$DIR" || fail "chown $DIR to $RUN_USER" "chown"
        # Every ancestor must be searchable by the server user.
        if ! runuser -u "$RUN_USER" -- test -w "$DIR"; then
            fail "checking permissions" \
                "user $RUN_USER cannot reach $DIR (a parent directory is" \
                "not searchable by it); use a directory under /tmp"
        fi
    fi
    chmod 700 "$DIR"

    if [[ ! -f "$DIR/data/PG_VERSION" ]]; then
        say "initdb in $DIR/data (server user $RUN_USER, superuser $SUPERUSER)"
        if ! as_user "$BINDIR/initdb" -D "$DIR/data" -U "$SUPERUSER" \
            --auth=trust --encoding=UTF8 --locale=C >"$DIR/log" 2>&1; then
            die "initdb" "see the log"
        fi
        # Trust on loopback only: a throwaway test cluster.
        cat >"$DIR/data/pg_hba.conf" <<'EOF'
# gridhub test cluster (ops/pg-cluster.sh): loopback only, no passwords.
# TYPE  DATABASE     USER  ADDRESS        METHOD
local   all          all                  trust
host    all          all   127.0.0.1/32   trust
local   replication  all                  trust
host    replication  all   127.0.0.1/32   trust
EOF
        echo "include 'gridhub.conf'" >>"$DIR/data/postgresql.conf"
    fi


    for attempt in 1 2 3 4 5; do
        # Rewritten at every start so the port can change between runs.
        cat >"$DIR/data/gridhub.conf" <<EOF
# Written by ops/pg-cluster.sh at each start; edits are lost.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = $(sql_quote "$DIR/sock")
wal_level = logical
max_replication_slots = 20
max_wal_senders = 20
wal_sender_timeout = 60s
logical_decoding_work_mem = 64MB
fsync = on
shared_buffers = 128MB
max_connections = 200
log_min_messages = warning
timezone = 'UTC'
EOF
        # Settings of the caller's own (diagnosis: auto_explain, say).
        [[ -z "${GH_PG_CONF:-}" ]] || printf '%s\n' "$GH_PG_CONF" >>"$DIR/data/gridhub.conf"
        if [[ $(id -u) -eq 0 ]]; then
            chown "$RUN_USER:" "$DIR/data/gridhub.conf" "$DIR/data/pg_hba.conf"
        fi

        say "starting on 127.0.0.1:$port"
        log_size=$(stat -c %s "$DIR/log")
        # pg_ctl's own complaints go to the server log too (both append).
        # shellcheck disable=SC2094
        if as_user "$BINDIR/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -t 30 \
            start >/dev/null 2>>"$DIR/log"; then
            break
        fi
        if ((auto_port)) && ((attempt < 5)) &&
            tail -c +$((log_size + 1)) "$DIR/log" |
            grep -q 'could not bind'; then
            say "port $port was taken meanwhile; trying another"
            port=$(pick_port)
            continue
        fi
        die "pg_ctl start" "the server did not start"
    done

    local waited=0
    until "$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$port" -U "$SUPERUSER" \
        -d postgres -t 1; do
        if ((waited >= 30)); then
            die "waiting for the server" "pg_isready still failing after 30 s"
        fi
        sleep 1
        waited=$((waited + 1))
    done

    # A database named after the role, so a bare `psql` connects.
    if ! "$BINDIR/psql" -X -q -h 127.0.0.1 -p "$port" -U "$SUPERUSER" \
        -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname =
        '$SUPERUSER'" | grep -q 1; then
        "$BINDIR/createdb" -h 127.0.0.1 -p "$port" -U "$SUPERUSER" \
            "$SUPERUSER" 2>>"$DIR/log" ||
            die "createdb $SUPERUSER" "see the log"
    fi

    write_env "$port"
    if [[ $(id -u) -eq 0 ]]; then
        chown "$RUN_USER:" "$DIR/env"
    fi
    say "ready (data $DIR/data, log $DIR/log)"
    cat "$DIR/env"
}

resolve_existing_dir() {
    if [[ ! -d "$DIR" ]]; then
        return 1
    fi
    DIR=$(cd "$DIR" && pwd -P)
    if [[ -f "$DIR/data/PG_VERSION" ]]; then
        RUN_USER=$(stat -c %U "$DIR/data")
    else
        RUN_USER=$(id -un)
    fi
}

cmd_stop() {
    if ! resolve_existing_dir || ! is_running; then
        say "not running in $DIR"
        return 0
    fi
    if ! as_user "$BINDIR/pg_ctl" -D "$DIR/data" -m fast -w -t 30 stop \
        >/dev/null 2>>"$DIR/log"; then
        say "fast shutdown timed out; using immediate"
        as_user "$BINDIR/pg_ctl" -D "$DIR/data" -m immediate -w -t 30 stop \
            >/dev/null 2>>"$DIR/log" || die "pg_ctl stop" "server still running"
    fi
    say "stopped ($DIR)"
}

cmd_status() {
    if resolve_existing_dir && is_running; then
        say "running in $DIR"
        if [[ -f "$DIR/env" ]]; then
            cat "$DIR/env"
        fi
        return 0
    fi
    say "not running in $DIR"
    return 3
}

cmd_env() {
    if ! resolve_existing_dir || [[ ! -f "$DIR/env" ]]; then
        fail "reading the environment" "no $DIR/env; start the cluster first"
    fi
    cat "$DIR/env"
}

(($# >= 2)) || usage
CMD=$1
DIR=$2
shift 2
BINDIR=$(find_bindir)

case "$CMD" in
    start)
        (($# <= 1)) || usage
        cmd_start "$@"
        ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    *) usage ;;
esac
