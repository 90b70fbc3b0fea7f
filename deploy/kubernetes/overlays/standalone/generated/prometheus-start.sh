#!/bin/sh
# What runs before Prometheus, in all three ways the stack runs (docs/USER_RULES.md):
#
#   Compose     the prometheus service's entrypoint (busybox sh in prom/prometheus), then it
#               execs Prometheus with the service's flags;
#   Kubernetes  the standalone overlay's init container (--prepare-only), the stock Prometheus
#               container after it;
#   no Docker   scripts/run-native.sh (--prepare-only), with the Python extractor.
#
# 1. The settings (.env in Compose and run-native): EDGE_METRIC_SHAPES, EDGE_BLACKBOX_PROBES,
#    NODE_EXPORTER_JOB, BLACKBOX_JOB, checked; a bad value stops the start (exit 2).
# 2. The shipped prometheus.yml, rendered into $EDGE_RUN_DIR/prometheus.yml: the `node` job
#    (the nodes' node_exporter shape) named NODE_EXPORTER_JOB, or left out when the shapes have
#    no node_exporter; the `blackbox` job named BLACKBOX_JOB, or left out with the exporter's own job when probes are off.
#    Prometheus reads no environment variables in its config, so the names are written in.
# 3. The user's rule files ($EDGE_USER_RULES: *.yml and *.yaml, not kustomization.yaml), each
#    checked with `promtool check rules` before Prometheus starts. A Prometheus Operator
#    PrometheusRule's spec.groups becomes a plain rule file of its own, cut out of the user's
#    file line for line (everything else blanked, the groups dedented), so promtool's line
#    numbers are the user's; the cut is compared with the parsed document and replaced by a
#    plain dump when they differ (flow style, JSON), and then says so. A broken file stops the
#    start (exit 1) with its name, line and column as the user knows them.
#
# The YAML is read by a real YAML parser, never by this script: mikefarah/yq in the
# containers (copied into $EDGE_YQ by Compose's rules-tools service or Kubernetes' init
# container), or EDGE_RULES_EXTRACT, a command with the same contract as yq_extract below
# (run-native: `python3 -m lib.user_rules extract`, scripts/lib/user_rules.py).
set -eu

SOURCE=${EDGE_PROMETHEUS_SOURCE:-/etc/prometheus/prometheus.yml}
RUN=${EDGE_RUN_DIR:-/run/edge-fleet}
USER_RULES=${EDGE_USER_RULES:-/etc/edge-fleet/user-rules}
# How the user knows their folder (Compose: the host path); used in every message.
LABEL=${EDGE_USER_RULES_LABEL:-user-rules}
YQ=${EDGE_YQ:-/opt/edge-fleet/tools/yq}
EXTRACT=${EDGE_RULES_EXTRACT:-}
PROMTOOL=${PROMTOOL:-promtool}
PROMETHEUS=${PROMETHEUS:-/bin/prometheus}
SHAPES=${EDGE_METRIC_SHAPES-node_exporter,otel,promhttp}
PROBES=${EDGE_BLACKBOX_PROBES:-on}
NODE_JOB=${NODE_EXPORTER_JOB:-node}
BB_JOB=${BLACKBOX_JOB:-blackbox}
# Jobs the shipped config names itself; a user's job name must not clash with them.
OWN_JOBS="edge-node blackbox-exporter prometheus alertmanager alert-sink"

say() { printf 'prometheus-start: %s\n' "$*" >&2; }

# ---- 1. settings ----------------------------------------------------------------------------

host_job=0
case ",$SHAPES," in
  ,none,) ;;
  *)
    for shape in $(printf '%s' "$SHAPES" | tr ',' ' '); do
      case $shape in
        node_exporter) host_job=1 ;;
        otel|promhttp) ;;
        *) say "EDGE_METRIC_SHAPES='$SHAPES': '$shape' is not a shape (a comma list of node_exporter, otel, promhttp; or none)"; exit 2 ;;
      esac
    done
    ;;
esac
case $PROBES in
  on) probe_job=1 ;;
  off) probe_job=0 ;;
  *) say "EDGE_BLACKBOX_PROBES='$PROBES': expected on or off"; exit 2 ;;
esac
for pair in "NODE_EXPORTER_JOB=$NODE_JOB" "BLACKBOX_JOB=$BB_JOB"; do
  name=${pair#*=}
  case $name in
    [A-Za-z_]*) ;;
    *) say "$pair: a job name starts with a letter or _"; exit 2 ;;
  esac
  case $name in
    *[!A-Za-z0-9_.-]*) say "$pair: a job name here is letters, digits, _, . and - only"; exit 2 ;;
  esac
  for own in $OWN_JOBS; do
    [ "$name" != "$own" ] || { say "$pair: the stack already has a job called $own"; exit 2; }
  done
done
[ "$NODE_JOB" != "$BB_JOB" ] || { say "NODE_EXPORTER_JOB and BLACKBOX_JOB are both '$NODE_JOB'"; exit 2; }

# ---- 2. the config --------------------------------------------------------------------------

mkdir -p "$RUN"
# A job is the block from its `  - job_name:` line to the next job, the next top-level key or
# a blank line (the layout of prometheus/prometheus.yml; scripts/e2e/test_user_rules.py renders
# it every way and loads the result). The user rules' entry in rule_files points at $RUN.
awk -v host="$host_job" -v probes="$probe_job" -v node_job="$NODE_JOB" -v bb_job="$BB_JOB" -v run="$RUN" '
  $0 == "  - /run/edge-fleet/user-rules/*.yml" { $0 = "  - " run "/user-rules/*.yml" }
  /^  - job_name: / {
    name = substr($0, 15)
    skip = (name == "node" && !host) || ((name == "blackbox" || name == "blackbox-exporter") && !probes)
    if (name == "node") $0 = "  - job_name: " node_job
    else if (name == "blackbox") $0 = "  - job_name: " bb_job
  }
  !/^  - job_name: / && (/^  - / || /^[^ #]/ || /^$/) { skip = 0 }
  !skip { print }
' "$SOURCE" > "$RUN/prometheus.yml.new"
mv "$RUN/prometheus.yml.new" "$RUN/prometheus.yml"
grep -qxF "  - $RUN/user-rules/*.yml" "$RUN/prometheus.yml" || {
  say "$SOURCE has no \`  - /run/edge-fleet/user-rules/*.yml\` in rule_files: your rules would not load"
  exit 1
}
# Relative paths in the config (rules/*.yml, targets/) resolve against its folder: give the
# rendered copy the source's neighbours.
for entry in "$(dirname "$SOURCE")"/*; do
  [ -e "$entry" ] || continue
  base=$(basename "$entry")
  [ "$entry" = "$SOURCE" ] || [ "$base" = user-rules ] || ln -sfn "$entry" "$RUN/$base"
done

# ---- 3. the user's rules --------------------------------------------------------------------

# yq_extract FILE OUTDIR STEM: one plain rule file OUTDIR/STEM.K.yml per PrometheusRule
# document of FILE (K from 1), and one line "PATH COLUMN-OFFSET" per file written (offset `-`
# when the lines are not the user's); nothing for a file without one. Exit non-zero with the
# parser's message when FILE is not YAML.
yq_extract() {
  f=$1 out=$2 stem=$3
  # On a first Compose start rules-tools may still be copying it: wait a minute at most.
  waited=0
  while [ ! -x "$YQ" ] && [ "$waited" -lt "${EDGE_YQ_WAIT:-60}" ]; do sleep 1; waited=$((waited + 1)); done
  [ -x "$YQ" ] || { say "no yq at $YQ to read PrometheusRule files (Compose: \`docker compose up -d rules-tools\` puts it there)"; return 1; }
  docs=$("$YQ" -N 'select(.kind == "PrometheusRule") | document_index' "$f") || return 1
  k=0
  for i in $docs; do
    k=$((k + 1))
    o="$out/$stem.$k.yml"
    line=$("$YQ" -N "select(document_index == $i) | .spec.groups | key | line" "$f")
    column=$("$YQ" -N "select(document_index == $i) | .spec.groups | key | column" "$f")
    want=$("$YQ" -o=json -I=0 "select(document_index == $i) | {\"groups\": (.spec.groups // [])}" "$f")
    offset=-
    if [ "${line:-0}" -gt 0 ] && [ "${column:-0}" -gt 0 ]; then
      cut_groups "$f" "$line" $((column - 1)) > "$o"
      got=$("$YQ" -o=json -I=0 '.' "$o" 2>/dev/null) || got=
      [ "$got" != "$want" ] || offset=$((column - 1))
    fi
    if [ "$offset" = - ]; then
      "$YQ" "select(document_index == $i) | {\"groups\": (.spec.groups // [])}" "$f" > "$o"
    fi
    printf '%s %s\n' "$o" "$offset"
  done
}

# cut_groups FILE LINE INDENT: FILE with every line blanked but the `groups:` key at LINE and
# its block value, which are moved INDENT columns left (scripts/lib/user_rules.py `cut` is
# the same rule). The value is every following line indented deeper than the key, or as deep
# and starting a sequence entry; comments become blank lines.
cut_groups() {
  awk -v at="$2" -v d="$3" '
    NR < at { print ""; next }
    NR == at { print substr($0, d + 1); inside = 1; next }
    inside {
      text = $0; sub(/^ */, "", text)
      indent = length($0) - length(text)
      if (text == "" || text ~ /^#/) { print ""; next }
      if (indent > d || (indent == d && (text ~ /^- / || text == "-"))) { print substr($0, d + 1); next }
      inside = 0
    }
    { print "" }
  ' "$1"
}

# check_rules FILE SHOWN OFFSET NOTE: promtool on FILE; its messages name SHOWN (the user's
# file) and, when OFFSET is a number, its line:column as the user wrote them.
check_rules() {
  if out=$("$PROMTOOL" check rules "$1" 2>&1); then return 0; fi
  printf '%s\n' "$out" | awk -v f="$1" -v shown="$2" -v off="$3" '
    /^Checking / || /^  FAILED:$/ { next }
    {
      if (index($0, f ": ") == 1) {
        rest = substr($0, length(f) + 3)
        if (off != "-" && match(rest, /^[0-9]+:[0-9]+: /)) {
          pos = substr(rest, 1, RLENGTH - 2); split(pos, lc, ":")
          if (lc[1] > 0) rest = lc[1] ":" (lc[2] + off) ": " substr(rest, RLENGTH + 1)
        }
        $0 = shown ": " rest
      }
      print "  " $0
    }
  ' >&2
  [ -z "$4" ] || say "  ($4)"
  return 1
}

rm -rf "$RUN/user-rules"
mkdir -p "$RUN/user-rules"
broken= count=0
if [ -d "$USER_RULES" ]; then
  for f in "$USER_RULES"/*.yml "$USER_RULES"/*.yaml; do
    [ -f "$f" ] || continue
    base=$(basename "$f")
    case $base in kustomization.yml|kustomization.yaml) continue ;; esac
    shown="$LABEL/$base"
    made=
    if [ ! -r "$f" ]; then
      say "$shown: cannot read it (Prometheus runs as another user: chmod a+r it)"
      broken="$broken $shown"
      continue
    fi
    if grep -q PrometheusRule "$f"; then
      if ! made=$(if [ -n "$EXTRACT" ]; then $EXTRACT "$f" "$RUN/user-rules" "$base"; else yq_extract "$f" "$RUN/user-rules" "$base"; fi 2>"$RUN/extract.err"); then
        sed "s|$f|$shown|g" "$RUN/extract.err" | sed 's/^/  /' >&2
        broken="$broken $shown"
        continue
      fi
    fi
    if [ -z "$made" ]; then
      # A plain rule file: checked where it is, so promtool's positions are the user's.
      if check_rules "$f" "$shown" 0 ""; then
        cp "$f" "$RUN/user-rules/$base.yml"
        count=$((count + 1))
      else
        broken="$broken $shown"
      fi
      continue
    fi
    k=0
    while read -r o offset; do
      k=$((k + 1))
      note=
      [ "$offset" != - ] || note="the PrometheusRule is not in block style: positions count in its spec.groups as a plain rule file (document $k)"
      if check_rules "$o" "$shown" "$offset" "$note"; then
        count=$((count + 1))
      else
        rm -f "$o"
        broken="$broken $shown"
      fi
    done <<EOF
$made
EOF
  done
fi
rm -f "$RUN/extract.err"
if [ -n "$broken" ]; then
  say "broken rule files:$broken; Prometheus not started. Fix them, or move them out of $LABEL (docs/USER_RULES.md)."
  exit 1
fi
say "$count rule file(s) from $LABEL checked; jobs: $([ "$host_job" = 1 ] && printf '%s' "$NODE_JOB" || printf 'no node_exporter job'), $([ "$probe_job" = 1 ] && printf '%s' "$BB_JOB" || printf 'no probes')"

if ! out=$("$PROMTOOL" check config --syntax-only "$RUN/prometheus.yml" 2>&1); then
  printf '%s\n' "$out" >&2
  say "the rendered config $RUN/prometheus.yml does not load; Prometheus not started"
  exit 1
fi

[ "${1:-}" != --prepare-only ] || exit 0
exec "$PROMETHEUS" "$@"
