# What a department's connector publishes, read from its mapping file, so
# the scripts that start a hub never list topics by hand. Sourced.

# Comma-separated topics of department $1 (gridhub.<dept>.<entity>).
dept_topics() {
    sed -n 's/^table\.[^.]*\.entity=[[:space:]]*//p' "connectors/$1/mapping.properties" |
        sort -u | sed "s/^/gridhub.$1./" | paste -sd, -
}

# The grid.crosswalks element of department $1 (<dept>:<file>), or nothing
# when it has no crosswalk file (the reference department, 综治).
dept_crosswalk() {
    [[ -f "connectors/$1/grid_crosswalk.csv" ]] && echo "$1:connectors/$1/grid_crosswalk.csv"
    return 0
}
