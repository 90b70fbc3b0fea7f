#!/usr/bin/env bash
# Checks the Compose stack's files with the tools made for them: the real Compose parser,
# hadolint, the Grafana dashboards (structure and @grafana/schema types) and the Loki and
# Alloy configs (structure). Each check also proves, with --self-test, that it catches
# broken input. Part of scripts/test.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v npm >/dev/null || { echo "checks: npm (Node.js) is needed for the dashboard type check" >&2; exit 1; }

echo "-- docker-compose.yml (Compose v2 parser; your rules, the shapes, the blackbox exporter) and the Dockerfile (hadolint)"
scripts/py -m checks.compose
scripts/py -m checks.compose --self-test

echo "-- Grafana: provisioning, dashboards, types"
scripts/py -m checks.dashboards
scripts/py -m checks.dashboards --self-test

echo "-- Loki and Alloy"
scripts/py -m checks.log_pipeline

echo "-- the first run elsewhere: classic builder, readable mounts, log label, socket path, Prometheus flags, rust-version"
scripts/py -m checks.first_run
scripts/py -m checks.first_run --self-test
