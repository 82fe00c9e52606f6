#!/usr/bin/env bash
# Server packages the integration tests run on loopback (real servers, not mocks). Idempotent.
set -euo pipefail
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v node >/dev/null 2>&1 || need+=(nodejs)
if [ ${#need[@]} -gt 0 ]; then
  echo "host-services: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# promtool and amtool (tests/integration/monitoring): the Debian packages' binaries unpacked into a machine-wide
# cache, never installed, so no Prometheus/Alertmanager server is started on this machine.
mon_cache="${MSS_MONITORING_TOOLS:-$HOME/.cache/mss-monitoring-tools}"
if [ ! -x "$mon_cache/usr/bin/promtool" ] || [ ! -x "$mon_cache/usr/bin/amtool" ]; then
  echo "host-services: unpacking promtool/amtool into $mon_cache"
  mkdir -p "$mon_cache/debs"
  (cd "$mon_cache/debs" && { apt-get download -qq prometheus prometheus-alertmanager 2>/dev/null \
     || { apt-get update -qq && apt-get download -qq prometheus prometheus-alertmanager; }; })
  for deb in "$mon_cache"/debs/*.deb; do dpkg-deb -x "$deb" "$mon_cache"; done
  rm -rf "$mon_cache/debs"
fi
# Debian's package starts a default redis-server on 6379; the tests start their own on free ports.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
  systemctl stop redis-server || true
fi
exit 0
