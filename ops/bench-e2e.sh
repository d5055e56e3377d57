#!/usr/bin/env bash
# The whole pipeline in one command, with a markdown report: department
# databases -> connectors -> embedded broker -> hub -> subscriber topics.
#
#   ./ops/bench-e2e.sh [--preset demo|city] [--scale F] [--instances N]
#                      [--report FILE] [any other ops/bench-hub.sh option]
#
# Runs ops/bench-hub.sh with every entity (as in production), the count
# check (department tables = hub = subscribers' folded topics, exit 1
# otherwise), commit-to-subscriber latency at steady offered loads
# (200, 1,000 and 2,000 new residents/s for 15 s each; with the city
# preset only 200/s) and the hub's time per stage, and writes the report
# to FILE (bench-e2e-<preset>.md in the repository root by default;
# a relative FILE is taken from there).
# The reproducible runs docs/performance.md quotes:
#   ./ops/bench-e2e.sh                        the demo preset
#   ./ops/bench-e2e.sh --instances 3          three hub instances
#   ./ops/bench-e2e.sh --preset city          the city (~15M department rows)
#   ./ops/bench-e2e.sh --preset city --scale 0.1
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
preset=demo
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    [[ ${args[i]} == --preset ]] && preset=${args[i + 1]:-demo}
done
latency=200,1000,2000:15
[[ $preset == city ]] && latency=200:15
exec "$ROOT/ops/bench-hub.sh" --entities all --check --latency "$latency" \
    --report "bench-e2e-$preset.md" "$@"
