# Sourced by the test scripts: make sure the real tools are on this machine.
# Installs Debian's prometheus (+ promtool), prometheus-alertmanager (+ amtool) and
# chromium when missing, and a Python venv (.venv) with the PyPI validators.

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_tools() {
  local missing=()
  command -v promtool >/dev/null || missing+=(prometheus)
  command -v amtool >/dev/null || missing+=(prometheus-alertmanager)
  command -v chromium >/dev/null || missing+=(chromium)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} (Debian packages)"
    apt_install "${missing[@]}"
  fi
  # The packages ship systemd units; a test machine must not keep daemons we did not start.
  as_root systemctl disable --now prometheus prometheus-alertmanager >/dev/null 2>&1 || true
}

VENV=${VENV:-.venv}
ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/pip" install -q --disable-pip-version-check -r scripts/requirements.txt
}
