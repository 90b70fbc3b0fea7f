#!/usr/bin/env bash
# Publishes the fleet on this machine at Compose's addresses, so every `inject` command in the
# README works unchanged against the cluster (--node all, status, scenarios, --watch):
# node N on 127.0.0.1:8000+N, the alert sink on :9095, Prometheus on :9090, Alertmanager on
# :9093, and with the standalone overlay Grafana on :3000. Ctrl-C stops every forward.
#
#   deploy/kubernetes/port-forward.sh                                    # standalone overlay
#   MONITORING_NAMESPACE=monitoring deploy/kubernetes/port-forward.sh    # kube-prometheus: the
#       stack's Prometheus and Alertmanager, through the operator's prometheus-operated and
#       alertmanager-operated Services in that namespace
#
# NAMESPACE (default edge-fleet) is the overlay's namespace. Each forward restarts when its
# pod does (a node restarted by its liveness probe, or rescheduled), since kubectl's does not.
set -euo pipefail
namespace=${NAMESPACE:-edge-fleet}
monitoring=${MONITORING_NAMESPACE:-}
forwards=()

# forward NAMESPACE RESOURCE LOCAL:REMOTE: keep one port-forward running, until told to stop.
forward() {
  (
    trap 'kill "$pf" 2>/dev/null; exit 0' TERM
    while :; do
      kubectl -n "$1" port-forward --address 127.0.0.1 "$2" "$3" >/dev/null 2>&1 &
      pf=$!
      wait "$pf" || true
      sleep 1
    done
  ) &
  forwards+=("$!")
}
trap 'kill "${forwards[@]}" 2>/dev/null' EXIT

nodes=$(kubectl -n "$namespace" get statefulset edge-node -o jsonpath='{.spec.replicas}')
for ((i = 1; i <= nodes; i++)); do
  forward "$namespace" "pod/edge-node-$i" "$((8000 + i)):8080"
done
forward "$namespace" svc/alert-sink 9095:9095
if [ -n "$monitoring" ]; then
  forward "$monitoring" svc/prometheus-operated 9090:9090
  forward "$monitoring" svc/alertmanager-operated 9093:9093
  grafana=""
else
  forward "$namespace" svc/prometheus 9090:9090
  forward "$namespace" svc/alertmanager 9093:9093
  forward "$namespace" svc/grafana 3000:3000
  grafana=", Grafana :3000"
fi
echo "nodes 1-$nodes on 127.0.0.1:8001-$((8000 + nodes)), alert sink :9095, Prometheus :9090, Alertmanager :9093$grafana; ctrl-c stops"
wait
