#!/usr/bin/env bash
# CPU per miss of `webcache cache` (whole process, every worker thread) for one or more bundles,
# side by side in one run: pure misses (every URL new) from wrk against the shared bench origin.
#
#   [ROUNDS=2] bench/workers_miss_cpu.sh WORKERS BUNDLE...   e.g. 2 /tmp/main/dist/webcache.js dist/webcache.js
#
# Needs the bench origin (bench/peers/serve.sh; ORIGIN=URL, default http://127.0.0.1:27080) and wrk. Run it under
# `flock /tmp/webcache-bench.lock`. Prints per bundle: requests, CPU seconds, µs CPU per miss.
set -Eeuo pipefail
workers=$1; shift
lua=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/peers/lua/bench.lua
tck=$(getconf CLK_TCK)
cpu_of() { awk -v t="$tck" '{print ($14 + $15) / t}' "/proc/$1/stat"; }
for round in $(seq "${ROUNDS:-2}"); do
  for bundle in "$@"; do
    port=$((20000 + RANDOM % 20000)); admin=$((40000 + RANDOM % 20000))
    deno run -A --unstable-kv --unstable-net "$bundle" cache --origin "${ORIGIN:-http://127.0.0.1:27080}" \
      --listen "127.0.0.1:$port" --admin "127.0.0.1:$admin" --workers "$workers" --access-log none \
      --log-level warn > /tmp/wk-bench-cache.out 2>&1 &
    pid=$!
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/obj/health" && break; sleep 0.1; done
    wrk -t1 -c64 -d1s -s "$lua" "http://127.0.0.1:$port/" -- unique /obj/miss- "warm$RANDOM$round" 1024 > /dev/null
    c0=$(cpu_of $pid)
    out=$(wrk -t1 -c64 -d5s -s "$lua" "http://127.0.0.1:$port/" -- unique /obj/miss- "n$RANDOM$round" 1024)
    c1=$(cpu_of $pid)
    reqs=$(echo "$out" | awk '/requests in/ {print $1}')
    kill $pid; wait $pid 2>/dev/null || true
    awk -v b="$bundle" -v r="$reqs" -v c0="$c0" -v c1="$c1" -v w="$workers" -v k="$round" \
      'BEGIN { printf "round %d workers %d %-45s %7d misses %6.2f CPU s %7.1f us/miss\n", k, w, b, r, c1 - c0, (c1 - c0) * 1e6 / r }'
  done
done
uptime
