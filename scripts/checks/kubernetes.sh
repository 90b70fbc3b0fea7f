#!/usr/bin/env bash
# Checks the Kubernetes manifests (deploy/kubernetes) offline: both overlays build with
# kubectl's kustomize, pass the Kubernetes API schemas (kubernetes-validate, strict) and the
# Prometheus Operator's CRD schemas (@kubernetes-models/prometheus-operator), carry exactly the
# repository's rules (promtool), routing (amtool) and dashboards, and hold together (Services,
# ports, ConfigMaps, node identity, security settings). Then --self-test proves each check
# catches a breakage. Part of scripts/test.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/tools.sh
command -v kubectl >/dev/null || { echo "checks: kubectl (with kustomize) is needed to build the manifests" >&2; exit 1; }
command -v npm >/dev/null || { echo "checks: npm (Node.js) is needed for the operator's CRD schemas" >&2; exit 1; }
ensure_v3_tools
ensure_venv
echo "tools: kubectl $(kubectl version --client 2>/dev/null | tr '\n' ' ')"

scripts/py -m checks.kubernetes
scripts/py -m checks.kubernetes --self-test
