#!/usr/bin/env bash
# Checks the Compose stack's files with the tools made for them: the real Compose parser,
# hadolint, the Grafana dashboards (structure and @grafana/schema types) and the Loki and
# Alloy configs (structure). Each check also proves, with --self-test, that it catches
# broken input. Part of scripts/test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/tools.sh
ensure_venv
command -v npm >/dev/null || { echo "check-stack: npm (Node.js) is needed for the dashboard type check" >&2; exit 1; }

echo "-- docker-compose.yml (Compose v2 parser) and the Dockerfile (hadolint)"
"$VENV/bin/python" scripts/check-compose.py
"$VENV/bin/python" scripts/check-compose.py --self-test

echo "-- Grafana: provisioning, dashboards, types"
"$VENV/bin/python" scripts/check-dashboards.py
"$VENV/bin/python" scripts/check-dashboards.py --self-test

echo "-- Loki and Alloy"
"$VENV/bin/python" scripts/check-logging.py
