# Sourced by the shell scripts: the tools the checks, the end-to-end suite and the no-Docker
# stack run, installed on a fresh machine without touching the system's apt setup.
#
# - Prometheus v3 and Alertmanager 0.33, the major versions the Compose images ship, come from
#   Debian's sid suite: our own sources list, lists and cache under target/tools/apt, then
#   `apt-get download` and `dpkg -x` into target/tools/root. Nothing is installed system-wide.
# - Prometheus 2.42 (Debian bookworm, the system's own suite) the same way into
#   target/tools/bookworm, only to prove the shipped config still loads there.
# - HAProxy 2.6 (Debian bookworm, the system's own suite) into target/tools/haproxy, to run
#   the stack's cross-site guard config for real (the image runs 3.2; sid's 3.2 needs a newer
#   glibc than bookworm's). scripts/lib/bin/haproxy runs it with its libraries.
# - The real exporters from Debian's sid suite into target/tools/root: the blackbox exporter
#   0.28 (the version the Compose image ships), which the no-Docker stack runs, and
#   node_exporter 1.11, the real thing the nodes' node_exporter shape is compared with.
# - busybox (Debian sid's static build) into target/tools/root, to run init/prometheus-start.sh
#   under the shell the prom/prometheus image has.
# - Chromium (Debian) for the browser checks, installed with apt-get when missing.
# - The project's one virtualenv (.venv) with scripts/requirements.txt (pyproject.toml's pins).

TOOLS_ROOT=${TOOLS_ROOT:-$PWD/target/tools}
V3_BIN=$TOOLS_ROOT/root/usr/bin
BOOKWORM_BIN=$TOOLS_ROOT/bookworm/usr/bin
VENV=${VENV:-$PWD/.venv}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

# apt_fetch SUITE DEST PACKAGE...: download Debian packages of SUITE with a private apt
# state (sources list, lists, cache) and unpack them into DEST. SUITE "system" uses the
# machine's own sources list.
apt_fetch() {
  local suite=$1 dest=$2; shift 2
  local apt=$TOOLS_ROOT/apt-$suite
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs" "$dest"
  local opts=(-o "Dir::State::lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o "APT::Sandbox::User=root")
  if [ "$suite" != system ]; then
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" > "$apt/sources.list"
    opts+=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o "Dir::Etc::sourceparts=-")
  fi
  apt-get "${opts[@]}" update -qq >/dev/null || return 1
  rm -f "$apt"/debs/*.deb
  (cd "$apt/debs" && apt-get "${opts[@]}" download "$@" >/dev/null) || return 1
  local deb
  for deb in "$apt"/debs/*.deb; do dpkg -x "$deb" "$dest" || return 1; done
}

# ensure_v3_tools: prometheus, promtool (v3), prometheus-alertmanager and amtool (0.33) in
# $V3_BIN, which goes first on PATH (Alertmanager through scripts/lib/bin). Fails with a clear message when they cannot be had.
ensure_v3_tools() {
  if [ ! -x "$V3_BIN/promtool" ] || [ ! -x "$V3_BIN/prometheus-alertmanager" ]; then
    echo "fetching prometheus, promtool, prometheus-alertmanager from Debian sid into $TOOLS_ROOT/root"
    apt_fetch sid "$TOOLS_ROOT/root" prometheus promtool prometheus-alertmanager || {
      echo "tools: could not fetch Prometheus v3 / Alertmanager 0.33 from Debian sid (apt-get download failed; is the Debian mirror reachable?)" >&2
      return 1
    }
  fi
  local major
  major=$("$V3_BIN/prometheus" --version 2>/dev/null | sed -n 's/^prometheus, version \([0-9]*\)\..*/\1/p')
  if [ "$major" != 3 ]; then
    echo "tools: expected Prometheus 3.x from Debian sid, got '$("$V3_BIN/prometheus" --version 2>&1 | head -1)'" >&2
    return 1
  fi
  # Alertmanager through its wrapper (it needs Debian's /usr/share files), the rest as is.
  export PATH="$PWD/scripts/lib/bin:$V3_BIN:$PATH"
}

# ensure_exporters: prometheus-blackbox-exporter (0.28) and prometheus-node-exporter (1.11) from
# Debian sid in $V3_BIN (target/tools/root/usr/bin), as the Compose images' versions.
ensure_exporters() {
  if [ ! -x "$V3_BIN/prometheus-blackbox-exporter" ] || [ ! -x "$V3_BIN/prometheus-node-exporter" ]; then
    echo "fetching prometheus-blackbox-exporter, prometheus-node-exporter from Debian sid into $TOOLS_ROOT/root"
    apt_fetch sid "$TOOLS_ROOT/root" prometheus-blackbox-exporter prometheus-node-exporter || {
      echo "tools: could not fetch the blackbox exporter / node_exporter from Debian sid (apt-get download failed; is the Debian mirror reachable?)" >&2
      return 1
    }
  fi
  local version
  version=$("$V3_BIN/prometheus-blackbox-exporter" --version 2>&1 | sed -n 's/^blackbox_exporter, version \([0-9]*\.[0-9]*\)\..*/\1/p')
  if [ "$version" != 0.28 ]; then
    echo "tools: expected blackbox_exporter 0.28 from Debian sid, got '$("$V3_BIN/prometheus-blackbox-exporter" --version 2>&1 | head -1)'" >&2
    return 1
  fi
}

# ensure_busybox: Debian sid's static busybox at $V3_BIN/busybox (the tests run
# init/prometheus-start.sh with its sh and awk, as the prom/prometheus image does).
ensure_busybox() {
  if [ ! -x "$V3_BIN/busybox" ]; then
    echo "fetching busybox-static from Debian sid into $TOOLS_ROOT/root"
    apt_fetch sid "$TOOLS_ROOT/root" busybox-static || {
      echo "tools: could not fetch busybox-static from Debian sid" >&2
      return 1
    }
  fi
}

# print_tool_versions: one line per tool, as the checks and the suite use them.
print_tool_versions() {
  echo "tools: $(prometheus --version 2>&1 | head -1)"
  echo "tools: $(promtool --version 2>&1 | head -1)"
  echo "tools: $(prometheus-alertmanager --version 2>&1 | head -1)"
  if [ -x "$V3_BIN/prometheus-blackbox-exporter" ]; then echo "tools: $("$V3_BIN/prometheus-blackbox-exporter" --version 2>&1 | head -1)"; fi
  if [ -x "$V3_BIN/busybox" ]; then echo "tools: $("$V3_BIN/busybox" 2>&1 | head -1)"; fi
  if command -v haproxy >/dev/null && haproxy -v >/dev/null 2>&1; then echo "tools: $(haproxy -v 2>&1 | head -1)"; fi
}

# ensure_bookworm_promtool: Debian bookworm's promtool 2.42 in $BOOKWORM_BIN (for the
# compatibility check only; never on PATH).
ensure_bookworm_promtool() {
  if [ ! -x "$BOOKWORM_BIN/promtool" ]; then
    echo "fetching Debian bookworm's prometheus (2.42) into $TOOLS_ROOT/bookworm"
    apt_fetch bookworm "$TOOLS_ROOT/bookworm" prometheus || {
      echo "tools: could not fetch Debian bookworm's prometheus package" >&2
      return 1
    }
  fi
}

# ensure_haproxy: Debian bookworm's haproxy and the libraries bookworm lacks by default, in
# target/tools/haproxy; `haproxy` on PATH is scripts/lib/bin/haproxy (after ensure_v3_tools).
ensure_haproxy() {
  if [ ! -x "$TOOLS_ROOT/haproxy/usr/sbin/haproxy" ]; then
    echo "fetching Debian bookworm's haproxy into $TOOLS_ROOT/haproxy"
    apt_fetch system "$TOOLS_ROOT/haproxy" haproxy liblua5.3-0 libopentracing-c-wrapper0 libopentracing1 || {
      echo "tools: could not fetch Debian's haproxy package" >&2
      return 1
    }
  fi
}

ensure_chromium() {
  if ! command -v chromium >/dev/null; then
    echo "installing chromium (Debian package)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends chromium >/dev/null
  fi
}

# ensure_venv: the project's one virtualenv, created one way, with scripts/requirements.txt (the
# pins pyproject.toml declares; checks.python_project holds them equal). Reinstalls only when
# the requirements changed.
ensure_venv() {
  local req=$PWD/scripts/requirements.txt stamp=$VENV/.requirements
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
  fi
  if ! cmp -s "$req" "$stamp"; then
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$req"
    cp "$req" "$stamp"
  fi
}
