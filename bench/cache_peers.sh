#!/usr/bin/env bash
# Runs the shared peer benchmark harness (../shared/bench/run.sh) with webcache's cache role as one
# more target ("webcache"), beside Squid, Varnish, nginx proxy_cache and Traffic Server.
#
#   bench/cache_peers.sh                       # defaults below: short rounds, four scenarios
#   DURATION=10s ROUNDS=3 bench/cache_peers.sh # the harness defaults
#   WC_WORKERS=2 bench/cache_peers.sh squid nginx-cache   # choose peers to run beside webcache
#
# webcache is built once (deno task build) and started by the harness as
#   deno run -A --unstable-kv --unstable-net --v8-flags=--no-memory-reducer dist/webcache.js cache --listen 127.0.0.1:$TARGET_PORT \
#     --origin $ORIGIN_URL --workers $WC_WORKERS --admin 127.0.0.1:<free port> --access-log none
# Results go to bench/results/<run-id>/ (git-ignored); summary.md is also printed.
set -Eeuo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HARNESS=${HARNESS:-$ROOT/../shared/bench/run.sh}
[[ -x $HARNESS || -f $HARNESS ]] || HARNESS=/work/shared/bench/run.sh
export OUT_DIR=${OUT_DIR:-$ROOT/bench/results}
export DURATION=${DURATION:-5s}
export ROUNDS=${ROUNDS:-2}
export SCENARIOS=${SCENARIOS:-"hot spread big miss"}
export PEERS=${PEERS:-"squid varnish nginx-cache ats"}
WC_PORT=${WC_PORT:-27210}
WC_ADMIN=${WC_ADMIN:-27211}
WC_WORKERS=${WC_WORKERS:-0}
(cd "$ROOT" && deno task build >/dev/null)
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || read -r -a targets <<<"$PEERS"
cmd="cd '$ROOT' && exec deno run -A --unstable-kv --unstable-net --v8-flags=--no-memory-reducer dist/webcache.js cache"
cmd+=" --listen 127.0.0.1:\$TARGET_PORT --origin \$ORIGIN_URL --workers $WC_WORKERS"
cmd+=" --admin 127.0.0.1:$WC_ADMIN --access-log none --log-level warn"
exec bash "$HARNESS" "${targets[@]}" "webcache=http://127.0.0.1:$WC_PORT" -c "webcache=$cmd"
