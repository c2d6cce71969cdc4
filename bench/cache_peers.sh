#!/usr/bin/env bash
# webcache (memory tier) beside Squid, Varnish, nginx proxy_cache and Traffic Server, in the
# repository's peer harness (bench/peers/run.sh; see its -h). Shorter defaults than the harness's.
#
#   bench/cache_peers.sh                        # 2 rounds x 5 s, hot spread big miss
#   DURATION=10s ROUNDS=3 bench/cache_peers.sh  # the harness defaults
#   bench/cache_peers.sh squid nginx-cache      # choose the peers run beside webcache
set -Eeuo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export DURATION=${DURATION:-5s} ROUNDS=${ROUNDS:-2}
export SCENARIOS=${SCENARIOS:-"hot spread big miss"}
export PEERS=${PEERS:-"squid varnish nginx-cache ats"}
targets=("$@")
((${#targets[@]} > 0)) || read -r -a targets <<< "$PEERS"
exec bash "$HERE/peers/run.sh" "${targets[@]}" webcache
