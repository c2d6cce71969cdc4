#!/usr/bin/env bash
# Start the benchmark origin (and optionally built-in targets) and keep them up until Ctrl-C,
# for developing a cache against the same origin run.sh uses, or poking at a built-in by hand.
#
#   bench/peers/serve.sh                      # origin only: http://127.0.0.1:27080/obj/<id>?size=<n>
#   bench/peers/serve.sh varnish deno-naive   # origin + those built-ins on their default ports
#   SERVE_SECONDS=60 bench/peers/serve.sh ... # stop by itself after 60 s
# (webcache targets need dist/webcache.js: deno task build)
set -Eeuo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export ORIGIN_PORT=${ORIGIN_PORT:-27080}
source "$BENCH_DIR/lib/common.sh"
source "$BENCH_DIR/lib/targets.sh"

DISK_DIR=${DISK_DIR:-$(cd "$BENCH_DIR/.." && pwd)/results/disk-stores}
resolve_deno
export DENO
DENO_RUN[0]=$DENO
mkdir -p "$RUN_DIR"
exec 9> "$RUN_DIR.lock"
flock -n 9 || die "another bench/peers/run.sh or serve.sh holds $RUN_DIR.lock"
trap 'log "stopping"; stop_all' EXIT
trap 'exit 0' INT TERM

gen_data "${SMALL_SIZE:-1024}" "${BIG_SIZE:-102400}"
start_origin
wait_http "$ORIGIN_URL/__status" 20 || die "origin did not come up"
echo "origin          $ORIGIN_URL   (GET /obj/<id>?size=<n>, /nostore/<id>?size=<n>, /__status)"
for t in "$@"; do
  [[ -n ${BUILTIN_PORT[$t]:-} ]] || die "unknown built-in '$t' (${!BUILTIN_PORT[*]})"
  "start_$t" "${BUILTIN_PORT[$t]}"
done
for t in "$@"; do
  wait_http "http://127.0.0.1:${BUILTIN_PORT[$t]}/obj/health" 60 || die "$t did not come up"
  printf '%-15s http://127.0.0.1:%s\n' "$t" "${BUILTIN_PORT[$t]}"
done
echo "Ctrl-C to stop."
if [[ -n ${SERVE_SECONDS:-} ]]; then sleep "$SERVE_SECONDS"; else while :; do sleep 3600; done; fi
