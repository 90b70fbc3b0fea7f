#!/usr/bin/env bash
# The whole stack without Docker: the 12-node fleet, Prometheus and Alertmanager with this
# repo's rules and routing, the blackbox exporter probing every node, and the alert sink, all
# on 127.0.0.1. Prints the URLs; ctrl-c stops everything it started.
#
# Prometheus v3 and Alertmanager 0.33 (the versions the Compose images ship) are fetched
# from Debian sid into target/tools on first use, without touching the system's apt setup
# (scripts/lib/tools.sh); PROMETHEUS=/path ALERTMANAGER=/path choose installed ones instead.
#
#   scripts/run-native.sh                  # nodes on 8001-8012, Prometheus 9090, Alertmanager 9093, sink 9095
#   PROM_PORT=19090 AM_PORT=19093 SINK_PORT=19095 BASE_PORT=18000 NODES=12 scripts/run-native.sh
#   PROFILE=fleet NODES=1000 RPS=2 scripts/run-native.sh   # 10 s scrapes: prometheus/fleet/
#   USER_RULES_DIR=~/my-rules scripts/run-native.sh       # your rule files (docs/USER_RULES.md)
#
# PROFILE picks the Prometheus profile (scripts/gen/profiles.py): demo (1 s scrapes, the
# default, for about a dozen nodes) or fleet (10 s scrapes, for hundreds to a thousand). The
# file_sd targets for NODES nodes are written into the state dir; the committed
# prometheus/targets/edge-nodes.yml (Compose's 12) is never touched.
#
# The metric shapes and job names (docs/USER_RULES.md), from the environment or ./.env as
# Compose reads them (the environment wins): EDGE_METRIC_SHAPES (what every node exposes
# besides edge_*: a comma list of node_exporter, otel, promhttp, or none), EDGE_BLACKBOX_PROBES
# (on or off), NODE_EXPORTER_JOB (node) and BLACKBOX_JOB (blackbox). The demo profile has every
# shape and the probes on; the fleet profile none of them (their cost at 1000 nodes: measured
# in docs/BENCHMARKS.md). USER_RULES_DIR (user-rules/) is your rule folder: every file is
# checked with promtool before anything starts, and a broken one stops the run, naming its
# file and line. The blackbox exporter is Debian sid's 0.28 (BLACKBOX_EXPORTER=/path for
# another), on BB_PORT (9115).
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
BB_PORT=${BB_PORT:-9115}
STATE=${STATE:-$(mktemp -d -t edge-native-XXXXXX)}

# read_dotenv: the settings below from ./.env, as Compose reads the file for interpolation: one
# KEY=VALUE a line, `#` comments, surrounding quotes removed, nothing expanded; a variable
# already set in the environment wins. Only these keys are read.
DOTENV_KEYS="EDGE_METRIC_SHAPES EDGE_BLACKBOX_PROBES NODE_EXPORTER_JOB BLACKBOX_JOB USER_RULES_DIR"
read_dotenv() {
  [ -f "$ROOT/.env" ] || return 0
  local line key value
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%$'\r'}
    line=${line#"${line%%[![:space:]]*}"}
    case $line in '' | '#'*) continue ;; esac
    line=${line#export }
    key=${line%%=*}
    value=${line#*=}
    case " $DOTENV_KEYS " in *" $key "*) ;; *) continue ;; esac
    [ -z "${!key+set}" ] || continue
    value=${value#"${value%%[![:space:]]*}"}
    case $value in
      \"*\"*) value=${value#\"}; value=${value%%\"*} ;;
      \'*\'*) value=${value#\'}; value=${value%%\'*} ;;
      *) value=${value%%[[:space:]]#*}; value=${value%"${value##*[![:space:]]}"} ;;
    esac
    printf -v "$key" '%s' "$value"
    export "${key?}"
  done < "$ROOT/.env"
}
read_dotenv
case "$PROFILE" in
  demo) DEFAULT_SHAPES=node_exporter,otel,promhttp DEFAULT_PROBES=on ;;
  fleet) DEFAULT_SHAPES=none DEFAULT_PROBES=off ;;
esac
export EDGE_METRIC_SHAPES=${EDGE_METRIC_SHAPES:-$DEFAULT_SHAPES}
export EDGE_BLACKBOX_PROBES=${EDGE_BLACKBOX_PROBES:-$DEFAULT_PROBES}
USER_RULES_DIR=${USER_RULES_DIR:-user-rules}

source scripts/lib/tools.sh
if [ -z "${PROMETHEUS:-}" ] || [ -z "${ALERTMANAGER:-}" ] || [ -z "${PROMTOOL:-}" ]; then
  ensure_v3_tools
fi
if [ "$EDGE_BLACKBOX_PROBES" = on ] && [ -z "${BLACKBOX_EXPORTER:-}" ]; then
  ensure_exporters
fi
PROMETHEUS=${PROMETHEUS:-$V3_BIN/prometheus}
PROMTOOL=${PROMTOOL:-$V3_BIN/promtool}
ALERTMANAGER=${ALERTMANAGER:-$ROOT/scripts/lib/bin/prometheus-alertmanager}
BLACKBOX_EXPORTER=${BLACKBOX_EXPORTER:-$V3_BIN/prometheus-blackbox-exporter}
for tool in "$PROMETHEUS" "$PROMTOOL" "$ALERTMANAGER"; do
  command -v "$tool" >/dev/null || { echo "run-native: $tool not found" >&2; exit 1; }
done
echo "run-native: $("$PROMETHEUS" --version 2>&1 | head -1); $("$ALERTMANAGER" --version 2>&1 | head -1); profile $PROFILE, $NODES nodes"

# Prometheus' config and the user's rules, before anything starts: the profile's shipped
# config with Compose's host names swapped for loopback ports, rendered by the same script the
# containers run (init/prometheus-start.sh: job names and shapes written in, every user rule
# file checked with promtool, PrometheusRule manifests extracted by scripts/lib/user_rules.py).
# A broken rule file ends the run here, with its file and line.
mkdir -p "$STATE/prometheus-source"
sed -e "s|^  - rules/\*.yml\$|  - $ROOT/$PROM_DIR/rules/*.yml|" \
    -e "s|\"\(\.\./\)\{0,1\}targets/edge-nodes.yml\"|\"$STATE/edge-nodes.yml\"|" \
    -e "s|alertmanager:9093|127.0.0.1:$AM_PORT|" \
    -e "s|alert-sink:9095|127.0.0.1:$SINK_PORT|" \
    -e "s|blackbox:9115|127.0.0.1:$BB_PORT|" \
    -e "s|localhost:9090|127.0.0.1:$PROM_PORT|" \
    "$PROM_DIR/prometheus.yml" > "$STATE/prometheus-source/prometheus.yml"
# The extractor needs PyYAML: the system's python3 when it has it, else the project's venv.
if python3 -c 'import yaml' 2>/dev/null; then
  extract="env PYTHONPATH=$ROOT/scripts python3 -m lib.user_rules extract"
else
  extract="$ROOT/scripts/py -m lib.user_rules extract"
fi
case $USER_RULES_DIR in /*) rules_path=$USER_RULES_DIR ;; *) rules_path=$ROOT/$USER_RULES_DIR ;; esac
EDGE_PROMETHEUS_SOURCE="$STATE/prometheus-source/prometheus.yml" EDGE_RUN_DIR="$STATE/run" \
  EDGE_USER_RULES="$rules_path" EDGE_USER_RULES_LABEL="$USER_RULES_DIR" EDGE_RULES_EXTRACT="$extract" \
  PROMTOOL="$PROMTOOL" sh init/prometheus-start.sh --prepare-only || {
  echo "run-native: not started (see above)" >&2
  exit 1
}

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
sed -e "s|http://alert-sink:9095|http://127.0.0.1:$SINK_PORT|" alertmanager/alertmanager.yml > "$STATE/alertmanager.yml"

target/release/alert-sink --port "$SINK_PORT" --runbooks "$ROOT/docs/runbooks" > "$STATE/alert-sink.log" 2>&1 &
pids+=($!)
"$ALERTMANAGER" --config.file="$STATE/alertmanager.yml" --storage.path="$STATE/alertmanager" \
  --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= > "$STATE/alertmanager.log" 2>&1 &
pids+=($!)
# EDGE_METRIC_SHAPES (exported above) reaches every node from the environment.
target/release/edge-node --nodes "$NODES" --base-port "$BASE_PORT" ${RPS:+--rps "$RPS"} ${SEED:+--seed "$SEED"} > "$STATE/fleet.log" 2>&1 &
pids+=($!)
if [ "$EDGE_BLACKBOX_PROBES" = on ]; then
  "$BLACKBOX_EXPORTER" --config.file="$ROOT/blackbox/blackbox.yml" --web.listen-address="127.0.0.1:$BB_PORT" \
    > "$STATE/blackbox.log" 2>&1 &
  pids+=($!)
fi
"$PROMETHEUS" --config.file="$STATE/run/prometheus.yml" --storage.tsdb.path="$STATE/prometheus" \
  --web.listen-address="127.0.0.1:$PROM_PORT" --enable-feature=exemplar-storage \
  --rules.alert.resend-delay=1s > "$STATE/prometheus.log" 2>&1 &
pids+=($!)

cat <<INFO
run-native: the stack is up (profile $PROFILE; state, logs and data in $STATE)
  edge nodes      http://127.0.0.1:$((BASE_PORT + 1)) .. http://127.0.0.1:$((BASE_PORT + NODES))
  Prometheus      http://127.0.0.1:$PROM_PORT/alerts
  Alertmanager    http://127.0.0.1:$AM_PORT
  alert sink      http://127.0.0.1:$SINK_PORT   (the on-call channel)
  blackbox        $([ "$EDGE_BLACKBOX_PROBES" = on ] && echo "http://127.0.0.1:$BB_PORT (probes every node's /api/products)" || echo "off (EDGE_BLACKBOX_PROBES)")
  shapes          $EDGE_METRIC_SHAPES; jobs ${NODE_EXPORTER_JOB:-node} (node_exporter shape), ${BLACKBOX_JOB:-blackbox} (probes)
  your rules      $USER_RULES_DIR (checked; docs/USER_RULES.md)
  traces          ${OTEL_EXPORTER_OTLP_ENDPOINT:-${OTEL_EXPORTER_OTLP_TRACES_ENDPOINT:-off (set OTEL_EXPORTER_OTLP_ENDPOINT to export)}}
Try: curl -s -XPOST 127.0.0.1:$((BASE_PORT + 3))/inject -H 'content-type: application/json' -d '{"failure":"cpu_spike","duration_s":30}'
ctrl-c stops everything.
INFO
# Exit (and clean up) as soon as any part dies.
wait -n "${pids[@]}"
echo "run-native: a process exited; see the logs in $STATE" >&2
exit 1
