#!/usr/bin/env bash
# Checks the alerting config with the tools made for it, on the versions the Compose stack
# ships (Prometheus v3, Alertmanager 0.33, from Debian sid): promtool (config, rules, unit
# tests, both profiles), amtool (config, every routing case), the structural checks, and that
# each value of prometheus/src/thresholds.yml moves its alert and its dashboard lines; then that
# the shipped Prometheus config still loads on Debian bookworm's Prometheus 2.42 (run-native.sh
# users).
# The live Alertmanager + alert sink + Chromium test is in the end-to-end suite.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/tools.sh
ensure_v3_tools
ensure_venv
print_tool_versions

echo "-- promtool check config / rules (demo and fleet profiles)"
promtool check config prometheus/prometheus.yml
promtool check config prometheus/fleet/prometheus.yml
promtool check rules prometheus/rules/*.yml prometheus/fleet/rules/*.yml

echo "-- promtool test rules (demo profile, then fleet profile)"
promtool test rules prometheus/tests/*.yml
promtool test rules prometheus/fleet/tests/*.yml

echo "-- structure: labels, annotations, runbooks, test coverage, receivers"
scripts/py -m checks.rules

echo "-- thresholds: prometheus/src/thresholds.yml moves both the alerts and the dashboards' lines"
scripts/py -m checks.thresholds
scripts/py -m checks.thresholds --self-test

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

echo "-- the shipped config still loads on Debian bookworm's Prometheus 2.42"
ensure_bookworm_promtool
echo "tools: $("$BOOKWORM_BIN/promtool" --version 2>&1 | head -1)"
"$BOOKWORM_BIN/promtool" check config prometheus/prometheus.yml
"$BOOKWORM_BIN/promtool" check config prometheus/fleet/prometheus.yml
