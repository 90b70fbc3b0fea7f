#!/usr/bin/env bash
# Checks the alerting config with the tools made for it: promtool (config, rules, unit
# tests), amtool (config, every routing case), the structural checks, and the live
# Alertmanager + alert sink + Chromium test. Part of scripts/test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/tools.sh
ensure_tools
ensure_venv

echo "-- SLO rules are what scripts/gen-slo-rules.py generates"
python3 scripts/gen-slo-rules.py --check

echo "-- compose targets are what 'edge-node targets' generates"
diff <(cargo run -q -p edge-node -- targets --nodes 12 --address 'edge-node-{id}:8080') prometheus/targets/edge-nodes.yml

echo "-- promtool check config / rules"
promtool check config prometheus/prometheus.yml
promtool check rules prometheus/rules/*.yml

echo "-- promtool test rules"
promtool test rules prometheus/tests/*.yml

echo "-- structure: labels, annotations, runbooks, test coverage, receivers"
"$VENV/bin/python" scripts/check-rules.py

echo "-- amtool check-config and routing cases"
amtool check-config alertmanager/alertmanager.yml
cases=0
while read -r receiver labels; do
  case "$receiver" in ''|'#'*) continue ;; esac
  # shellcheck disable=SC2086 # labels are separate arguments
  if ! amtool config routes test --config.file=alertmanager/alertmanager.yml --verify.receivers="$receiver" $labels >/dev/null 2>&1; then
    echo "routing case failed: {$labels} should reach $receiver, but reaches $(amtool config routes test --config.file=alertmanager/alertmanager.yml $labels 2>/dev/null)" >&2
    exit 1
  fi
  cases=$((cases + 1))
done < alertmanager/tests/routes.txt
echo "$cases routing cases pass"

echo "-- live: Alertmanager routes, inhibits and delivers to the alert sink; Chromium shows it"
cargo build -q -p alert-sink
python3 scripts/e2e-alertmanager.py
