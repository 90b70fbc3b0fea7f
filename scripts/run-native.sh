#!/usr/bin/env bash
# The whole stack without Docker: the 12-node fleet, Prometheus and Alertmanager with this
# repo's rules and routing, and the alert sink, all on 127.0.0.1. Prints the URLs; ctrl-c
# stops everything it started.
#
# Prometheus v3 and Alertmanager 0.33 (the versions the Compose images ship) are fetched
# from Debian sid into target/tools on first use, without touching the system's apt setup
# (scripts/lib/tools.sh); PROMETHEUS=/path ALERTMANAGER=/path choose installed ones instead.
#
#   scripts/run-native.sh                  # nodes on 8001-8012, Prometheus 9090, Alertmanager 9093, sink 9095
#   PROM_PORT=19090 AM_PORT=19093 SINK_PORT=19095 BASE_PORT=18000 NODES=12 scripts/run-native.sh
#   PROFILE=fleet NODES=1000 RPS=2 scripts/run-native.sh   # 10 s scrapes: prometheus/fleet/
#
# PROFILE picks the Prometheus profile (scripts/gen/profiles.py): demo (1 s scrapes, the
# default, for about a dozen nodes) or fleet (10 s scrapes, for hundreds to a thousand). The
# file_sd targets for NODES nodes are written into the state dir; the committed
# prometheus/targets/edge-nodes.yml (Compose's 12) is never touched.
#
# Traces: the fleet reads the standard OpenTelemetry variables, so the switch is the same as in
# Compose and Kubernetes: set OTEL_EXPORTER_OTLP_ENDPOINT to an OTLP/HTTP receiver you run (a
# Tempo, an OpenTelemetry Collector; none is started here) and every node exports its spans;
# unset, nothing is exported. OTEL_TRACES_SAMPLER(_ARG) and OTEL_RESOURCE_ATTRIBUTES pass too.
#   OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 scripts/run-native.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

NODES=${NODES:-12}
PROFILE=${PROFILE:-demo}
case "$PROFILE" in
  demo) PROM_DIR=prometheus ;;
  fleet) PROM_DIR=prometheus/fleet ;;
  *) echo "run-native: PROFILE must be demo or fleet, not '$PROFILE'" >&2; exit 2 ;;
esac
BASE_PORT=${BASE_PORT:-8000}
PROM_PORT=${PROM_PORT:-9090}
AM_PORT=${AM_PORT:-9093}
SINK_PORT=${SINK_PORT:-9095}
RPS=${RPS:-}   # empty: the node's default (20 req/s)
SEED=${SEED:-}
STATE=${STATE:-$(mktemp -d -t edge-native-XXXXXX)}

source scripts/lib/tools.sh
if [ -z "${PROMETHEUS:-}" ] || [ -z "${ALERTMANAGER:-}" ]; then
  ensure_v3_tools
fi
PROMETHEUS=${PROMETHEUS:-$V3_BIN/prometheus}
ALERTMANAGER=${ALERTMANAGER:-$ROOT/scripts/lib/bin/prometheus-alertmanager}
for tool in "$PROMETHEUS" "$ALERTMANAGER"; do
  command -v "$tool" >/dev/null || { echo "run-native: $tool not found" >&2; exit 1; }
done
echo "run-native: $("$PROMETHEUS" --version 2>&1 | head -1); $("$ALERTMANAGER" --version 2>&1 | head -1); profile $PROFILE, $NODES nodes"

cargo build --release -q -p edge-node -p alert-sink

pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "run-native: stopped (logs and data in $STATE)"
}
trap stop INT TERM EXIT

# One source of truth: the same generator that wrote prometheus/targets/edge-nodes.yml.
target/release/edge-node targets --nodes "$NODES" --address '127.0.0.1:{port}' --base-port "$BASE_PORT" > "$STATE/edge-nodes.yml"
# The profile's shipped config, with Compose host names swapped for loopback ports.
sed -e "s|rules/\*.yml|$ROOT/$PROM_DIR/rules/*.yml|" \
    -e "s|\"\(\.\./\)\{0,1\}targets/edge-nodes.yml\"|\"$STATE/edge-nodes.yml\"|" \
    -e "s|alertmanager:9093|127.0.0.1:$AM_PORT|" \
    -e "s|alert-sink:9095|127.0.0.1:$SINK_PORT|" \
    -e "s|localhost:9090|127.0.0.1:$PROM_PORT|" \
    "$PROM_DIR/prometheus.yml" > "$STATE/prometheus.yml"
sed -e "s|http://alert-sink:9095|http://127.0.0.1:$SINK_PORT|" alertmanager/alertmanager.yml > "$STATE/alertmanager.yml"

target/release/alert-sink --port "$SINK_PORT" --runbooks "$ROOT/docs/runbooks" > "$STATE/alert-sink.log" 2>&1 &
pids+=($!)
"$ALERTMANAGER" --config.file="$STATE/alertmanager.yml" --storage.path="$STATE/alertmanager" \
  --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= > "$STATE/alertmanager.log" 2>&1 &
pids+=($!)
target/release/edge-node --nodes "$NODES" --base-port "$BASE_PORT" ${RPS:+--rps "$RPS"} ${SEED:+--seed "$SEED"} > "$STATE/fleet.log" 2>&1 &
pids+=($!)
"$PROMETHEUS" --config.file="$STATE/prometheus.yml" --storage.tsdb.path="$STATE/prometheus" \
  --web.listen-address="127.0.0.1:$PROM_PORT" --enable-feature=exemplar-storage \
  --rules.alert.resend-delay=1s > "$STATE/prometheus.log" 2>&1 &
pids+=($!)

cat <<INFO
run-native: the stack is up (profile $PROFILE; state, logs and data in $STATE)
  edge nodes      http://127.0.0.1:$((BASE_PORT + 1)) .. http://127.0.0.1:$((BASE_PORT + NODES))
  Prometheus      http://127.0.0.1:$PROM_PORT/alerts
  Alertmanager    http://127.0.0.1:$AM_PORT
  alert sink      http://127.0.0.1:$SINK_PORT   (the on-call channel)
  traces          ${OTEL_EXPORTER_OTLP_ENDPOINT:-${OTEL_EXPORTER_OTLP_TRACES_ENDPOINT:-off (set OTEL_EXPORTER_OTLP_ENDPOINT to export)}}
Try: curl -s -XPOST 127.0.0.1:$((BASE_PORT + 3))/inject -H 'content-type: application/json' -d '{"failure":"cpu_spike","duration_s":30}'
ctrl-c stops everything.
INFO
# Exit (and clean up) as soon as any part dies.
wait -n "${pids[@]}"
echo "run-native: a process exited; see the logs in $STATE" >&2
exit 1
