# shellcheck shell=bash
# The count check of a pipeline run: nothing lost between the department
# databases, the hub and the subscribers' topics. Sourced by
# ops/bench-hub.sh (--check); needs psql on the run's cluster (PG*
# variables) with databases named after the departments, and a database
# `hub` there or on port HUBPORT of the same host.

# count_check ENTITIES VIEWCOUNT DEPT...
#   ENTITIES   person (person tables only) or all
#   VIEWCOUNT  gh_view_count's output: "TOPIC KEYS MESSAGES" per line
# Prints one line per department table (rows in the table that pass the
# mapping's filter, rows the hub holds of it) and one per subscriber topic
# (keys live after folding the topic, records the hub has sent and holds
# as sent, feed_state); returns 1 if any pair differs.
# Property KEY of department D's mapping file.
map_prop() { sed -n "s/^$2=[[:space:]]*//p" "connectors/$1/mapping.properties"; }
# psql on the hub database, tuples only.
hub_query() { psql -p "${HUBPORT:-$PGPORT}" -tAd hub "$@"; }

count_check() {
    local entities=$1 viewcount=$2 bad=0 d t src ent filter n_dept n_hub
    shift 2
    echo "  department tables -> the hub (rows passing the mapping's filter; rows held, not deleted):"
    for d in "$@"; do
        while read -r t; do
            src=$(map_prop "$d" "table\.$t\.source")
            ent=$(map_prop "$d" "table\.$t\.entity")
            filter=$(map_prop "$d" "table\.$t\.filter")
            [[ $entities == all || $ent == person ]] || continue
            n_dept=$(psql -tAd "$d" -c "SELECT count(*) FROM $src${filter:+ WHERE $filter}")
            # The hub keeps the table's own name (source= without schema);
            # one table may feed several entities (a person and their
            # registration), each held apart.
            n_hub=$(hub_query -v d="$d" -v t="${src#*.}" -v e="$ent" <<'SQL'
SELECT CASE WHEN :'e' = 'person' THEN (SELECT count(*) FROM source_person
    WHERE department = :'d' AND source_table = :'t' AND NOT deleted)
    ELSE (SELECT count(*) FROM source_row WHERE department = :'d'
    AND source_table = :'t' AND entity = :'e' AND NOT deleted) END
SQL
            )
            printf '    %-10s %-14s %-10s %9s %9s  %s\n' "$d" "$t" "$ent" "$n_dept" "$n_hub" \
                "$( ((n_dept == n_hub)) && echo ok || echo MISMATCH)"
            ((n_dept == n_hub)) || bad=1
        done < <(sed -n 's/^table\.\([^.]*\)\.source=.*/\1/p' "connectors/$d/mapping.properties")
    done
    echo "  the hub -> subscriber topics (keys live after folding the topic; records the hub holds as sent):"
    local topic keys msgs sub held
    while read -r topic keys msgs; do
        sub=${topic#hub.view.}
        ent=${sub#*.}
        sub=${sub%%.*}
        held=$(hub_query -v s="$sub" -v e="$ent" <<'SQL'
SELECT count(*) FROM feed_state WHERE subscriber = :'s' AND entity = :'e'
    AND digest IS NOT NULL
SQL
        )
        printf '    %-32s %9s %9s  (%s messages read)  %s\n' "$topic" "$keys" "$held" "$msgs" \
            "$( ((keys == held)) && echo ok || echo MISMATCH)"
        ((keys == held)) || bad=1
    done <"$viewcount"
    return "$bad"
}
