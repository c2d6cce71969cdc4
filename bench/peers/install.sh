#!/usr/bin/env bash
# Installs what bench/peers/run.sh needs, from Debian's packages (and Deno from npm when it is
# missing). Idempotent. The Debian packages' own services are not started here: the bench
# starts its own processes. (If a package's postinst started a systemd unit, stop it yourself.)
set -euo pipefail
need=()
for pair in squid:squid varnishd:varnish nginx:nginx traffic_server:trafficserver wrk:wrk \
            curl:curl ss:iproute2 flock:util-linux awk:gawk; do
  command -v "${pair%%:*}" > /dev/null || need+=("${pair#*:}")
done
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
fi
if ! command -v deno > /dev/null; then
  npm install -g deno
fi
for u in proxy trafficserver; do
  getent passwd "$u" > /dev/null || echo "warning: user $u missing (squid/trafficserver packages create it)" >&2
done
squid -v | head -1; varnishd -V 2>&1 | head -1; nginx -v; traffic_server --version 2>&1 | grep -m1 'Traffic Server'
wrk -v 2>&1 | head -1 || true; deno --version | head -1
