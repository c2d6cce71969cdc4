#!/usr/bin/env bash
# CPU per request of webcache's cache role under the peer harness's miss load (or a hit load),
# measured from /proc/<pid>/stat (utime + stime of the whole process, all workers), which moves far
# less with machine load than req/s does. Starts the harness origin (bench/peers/serve.sh, in a
# run dir and on a port of its own), each bundle in turn, and wrk; stops everything at the end.
#
#   deno task build && flock /tmp/webcache-bench.lock bench/miss_cpu.sh      # misses, 2 workers
#   MODE=hot WORKERS=1 flock /tmp/webcache-bench.lock bench/miss_cpu.sh
#   BUNDLES="old=/tmp/old/dist/webcache.js new=dist/webcache.js" ... bench/miss_cpu.sh   # A/B, interleaved
#   NGINX=1 ... bench/miss_cpu.sh          # nginx proxy_cache under the same load, same run
#   ROUNDS=3 ...                           # repeat the whole set (A B A B A B)
#   PERF=/tmp/x.data ...                   # perf record (cpu-clock, call graphs) of the target meanwhile
#   STRACE=/tmp/x ...                      # strace -c -f of the target meanwhile (x.<name>.strace); slows it
#   DISK=1 ...                             # the store is a cache directory (under bench/results/) with the
#                                          # memory tier off: every hit reads the disk store
#   DISK=rock ...                          # the same with a rock directory (16 KiB slots) and a ufs one
#                                          # beside it, as bench/peers' webcache-rock; fresh for each bundle
#   SETTLE=2 ...                           # with DISK=1: seconds between start and measurement, for the
#                                          # directory's background start-up work (subdirectories)
#   PROFILE=/tmp/x ...                     # V8 CPU profile of each bundle (x.<name>.cpuprofile) and its
#                                          # report (bench/cpu_profile.ts); the profiler slows the bundle
#   ALLOCS=/tmp/x ...                      # V8 sampling heap profile of each bundle (x.<name>.heapprofile):
#                                          # bytes allocated per function and per request (bench/alloc_profile.ts)
#   EXTRA_new="--v8-flags=..." ...         # deno flags for the bundle named "new" only (EXTRA: for all)
#   ENV_new="MALLOC_ARENA_MAX=1" ...       # environment of the bundle named "new" only
#   ARGS_rock="--config /tmp/rock.yaml" ... # extra `webcache cache` arguments of the bundle named "rock"
#                                          # (e.g. BUNDLES="ufs=dist/webcache.js rock=dist/webcache.js")
#
# MODE: miss (every request a new 1 KiB URL), nostore (the same, answered with Cache-Control:
# no-store: the miss path without storing), hot (one URL), spread (10,000 URLs, warmed first), big
# (100 URLs of 100 KiB, warmed first).
# WARM: warm-up before hit modes (default 3s; 12s for spread, so every worker holds every object);
# with MODE=miss, WARM=40s first fills the memory tier with other unique URLs (steady state).
# Prints one line per measurement: req/s, p50/p99 ms, cores used, µs CPU per request (and the
# kernel's share of it), minor page
# faults per request (fresh memory touched: a growing heap costs a fault per 4 KiB page), errors.
set -Eeuo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=${BENCH:-$ROOT/bench/peers}
MODE=${MODE:-miss}
WORKERS=${WORKERS:-2}
DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-1}
BUNDLES=${BUNDLES:-"webcache=$ROOT/dist/webcache.js"}
EXTRA=${EXTRA:-}
pids=()
cleanup() {
  # serve.sh runs in its own process group (setsid): TERM the group so its `sleep` ends too.
  for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# Own run dir and origin port: serve.sh refuses to start while another copy holds the default run dir.
export RUN_DIR=${RUN_DIR:-/dev/shm/mp-cachebench} ORIGIN_PORT=${ORIGIN_PORT:-27580}
ORIGIN=http://127.0.0.1:$ORIGIN_PORT
SERVE_SECONDS=900 setsid bash "$BENCH/serve.sh" ${NGINX:+nginx-cache} >/tmp/mp-serve.log 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  curl -fs -o /dev/null "$ORIGIN/__status" && break
  sleep 0.1
done
curl -fs -o /dev/null "$ORIGIN/__status" || { cat /tmp/mp-serve.log; exit 1; }
if [[ -n ${NGINX:-} ]]; then
  for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:27103/obj/health?size=1024" && break; sleep 0.2; done
fi

cpu_of() { # PID... -> utime+stime ticks summed
  local t=0 p
  for p in "$@"; do t=$((t + $(awk '{ sub(/^[0-9]+ \(.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo "$t"
}
sys_of() { # PID... -> stime ticks summed
  local t=0 p
  for p in "$@"; do t=$((t + $(awk '{ sub(/^[0-9]+ \(.*\) /, ""); print $13 }' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo "$t"
}
faults_of() { # PID... -> minor page faults summed
  local t=0 p
  for p in "$@"; do t=$((t + $(awk '{ sub(/^[0-9]+ \(.*\) /, ""); print $8 }' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo "$t"
}
measure() { # name "pids" url
  local name=$1 pid=$2 url=$3 args=()
  case $MODE in
    miss) args=(unique /obj/miss- "mp$RANDOM$RANDOM" 1024) ;;
    nostore) args=(unique /nostore/miss- "mp$RANDOM$RANDOM" 1024) ;;
    hot) args=(static); url="$url/obj/hot?size=1024" ;;
    spread) args=(spread /obj/s 10000 1024) ;;
    big) args=(spread /obj/b 100 102400) ;;
  esac
  # Warm-up: every object stored before measuring; for misses only with WARM= (the store filled
  # first, so the measurement sees a full memory tier's steady state, evictions and full GCs included).
  if [[ ($MODE != miss && $MODE != nostore) || -n ${WARM:-} ]]; then
    # Spread: every worker must have asked for (and copied) each of the 10,000 objects once.
    local warm=${WARM:-3s}
    [[ $MODE != spread || -n ${WARM:-} ]] || warm=12s
    local wargs=("${args[@]}")
    [[ ${args[0]} != unique ]] || wargs[2]="${args[2]}w" # other URLs than the measurement's
    wrk -t1 -c64 -d"$warm" -s "$BENCH/lua/bench.lua" "$url" -- "${wargs[@]}" >/dev/null
  fi
  local c0 c1 f0 f1 s0 s1 t0 t1 out hz
  hz=$(getconf CLK_TCK)
  # shellcheck disable=SC2086
  c0=$(cpu_of $pid)
  # shellcheck disable=SC2086
  f0=$(faults_of $pid)
  # shellcheck disable=SC2086
  s0=$(sys_of $pid)
  local perfpid= profpid= allocpid=
  if [[ -n ${ALLOCS:-} && -n ${INSPECT_PORT:-} ]]; then # samples from 1 s in until 1 s before the end
    (sleep 1 && deno run -A "$ROOT/bench/alloc_profile.ts" record "$INSPECT_PORT" "$(( ${DURATION%s} - 2 ))" \
      "$ALLOCS.$name.heapprofile") &
    allocpid=$!
  fi
  if [[ -n ${PROFILE:-} && -n ${INSPECT_PORT:-} ]]; then # samples from 1 s in until 1 s before the end
    (sleep 1 && deno run -A "$ROOT/bench/cpu_profile.ts" record "$INSPECT_PORT" "$(( ${DURATION%s} - 2 ))" \
      "$PROFILE.$name.cpuprofile") &
    profpid=$!
  fi
  local stracepid=
  if [[ -n ${STRACE:-} ]]; then # STRACE=prefix: count the target's system calls (all threads)
    timeout -s INT "${DURATION%s}" strace -c -f -p "${pid%% *}" -o "$STRACE.$name.strace" >/dev/null 2>&1 &
    stracepid=$!
  fi
  if [[ -n ${PERF:-} ]]; then # PERF=file.data: also sample the target's stacks (kernel included)
    perf record -e cpu-clock -F 499 -g -p "${pid%% *}" -o "$PERF" -- sleep "${DURATION%s}" >/dev/null 2>&1 &
    perfpid=$!
  fi
  t0=$(date +%s%N)
  out=$(wrk -t1 -c64 -d"$DURATION" -s "$BENCH/lua/bench.lua" "$url" -- "${args[@]}" | grep WRKJSON | sed 's/WRKJSON //')
  t1=$(date +%s%N)
  # shellcheck disable=SC2086
  c1=$(cpu_of $pid)
  # shellcheck disable=SC2086
  f1=$(faults_of $pid)
  # shellcheck disable=SC2086
  s1=$(sys_of $pid)
  [[ -z $perfpid ]] || wait "$perfpid" || true
  [[ -z $stracepid ]] || wait "$stracepid" || true
  if [[ -n $profpid ]]; then
    wait "$profpid" && deno run -A "$ROOT/bench/cpu_profile.ts" report "$PROFILE.$name.cpuprofile" 25 >&2 || true
  fi
  if [[ -n $allocpid ]]; then # requests while sampling: the run's average rate over the sampled seconds
    local sampled
    sampled=$(python3 -c "import json,sys; print(int(json.loads(sys.argv[1])['rps'] * ($(( ${DURATION%s} - 2 )))))" "$out")
    wait "$allocpid" && deno run -A "$ROOT/bench/alloc_profile.ts" report "$ALLOCS.$name.heapprofile" 30 "$sampled" >&2 ||
      true
  fi
  python3 - "$name" "$out" "$c0" "$c1" "$t0" "$t1" "$hz" "$f0" "$f1" "$s0" "$s1" <<'EOF'
import json, sys
name, out, c0, c1, t0, t1, hz, f0, f1, s0, s1 = sys.argv[1:]
w = json.loads(out)
cpu = (int(c1) - int(c0)) / int(hz)
wall = (int(t1) - int(t0)) / 1e9
errs = sum(w[k] for k in w if k.startswith("err_"))
print(f"{name:12s} {w['rps']:9.0f} req/s  p50 {w['lat_p50_us']/1000:6.2f} ms  p99 {w['lat_p99_us']/1000:6.2f} ms"
      f"  cores {cpu/wall:4.2f}  {cpu*1e6/max(1,w['requests']):6.1f} us CPU/req ({100*(int(s1)-int(s0))/max(1,int(c1)-int(c0)):3.0f}% sys)"
      f"  {(int(f1) - int(f0))/max(1,w['requests']):5.2f} faults/req  errors {errs}", flush=True)
EOF
}
run_bundle() { # name path
  local port=$((28000 + RANDOM % 2000)) wc own="EXTRA_$1" ownenv="ENV_$1" ownargs="ARGS_$1" inspect= disk=()
  if [[ ${DISK:-} == rock ]]; then # fresh rock + ufs directories, memory tier off (bench/peers' webcache-rock)
    local dir=$ROOT/bench/results/disk-stores/cpu-$1
    rm -rf "$dir" && mkdir -p "$dir"
    printf 'cache:\n  memory:\n    maxBytes: 1MiB\n    maxObjectBytes: 0\n  store:\n    dirs:\n%s\n%s\n' \
      "      - { type: rock, path: $dir/rock, size: 2GiB, slotBytes: 16KiB, ways: 8 }" \
      "      - { type: ufs, path: $dir/ufs, size: 2GiB }" >"$dir.yaml"
    disk=(--config "$dir.yaml")
  elif [[ -n ${DISK:-} ]]; then # a fresh cache directory, memory tier off (as bench/peers' webcache-disk)
    local dir=$ROOT/bench/results/disk-stores/cpu-$1
    rm -rf "$dir" && mkdir -p "$dir"
    printf 'cache:\n  memory:\n    maxBytes: 1MiB\n    maxObjectBytes: 0\n' >"$dir.yaml"
    disk=(--config "$dir.yaml" --cache-dir "$dir/d1" --cache-size 2GiB)
  fi
  INSPECT_PORT=
  if [[ -n ${PROFILE:-}${ALLOCS:-} ]]; then
    INSPECT_PORT=$((30000 + RANDOM % 2000))
    inspect="--inspect=127.0.0.1:$INSPECT_PORT"
  fi
  # shellcheck disable=SC2086
  env ${!ownenv:-} deno run -A --unstable-kv --unstable-net $EXTRA ${!own:-} $inspect "$2" cache "${disk[@]}" --listen "127.0.0.1:$port" \
    --origin "$ORIGIN" --workers "$WORKERS" --access-log none --log-level warn --admin "127.0.0.1:$((port + 1))" \
    ${!ownargs:-} &
  wc=$!
  # Wait until every worker listens (/status lists each worker once it reported), not just the
  # main thread: wrk's connections stay where they were accepted first.
  for _ in $(seq 200); do
    curl -fs "http://127.0.0.1:$((port + 1))/status" |
      python3 -c "import json,sys; sys.exit(0 if json.load(sys.stdin)['cache']['workers'] >= $WORKERS else 1)" \
        2>/dev/null && break
    sleep 0.1
  done
  curl -fs -o /dev/null "http://127.0.0.1:$port/obj/health?size=1024"
  # A fresh cache directory's start-up work (creating its L1/L2 subdirectories, as `squid -z`
  # does before Squid starts) runs in the background: let it finish before measuring.
  [[ -z ${DISK:-} ]] || sleep "${SETTLE:-2}"
  measure "$1" "$wc" "http://127.0.0.1:$port"
  kill "$wc"
  wait "$wc" 2>/dev/null || true
}
echo "# $(date -u +%FT%TZ) mode=$MODE disk=${DISK:-0} workers=$WORKERS duration=$DURATION load: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$ROUNDS"); do
  for b in $BUNDLES; do run_bundle "${b%%=*}" "${b#*=}"; done
  if [[ -n ${NGINX:-} ]]; then
    master=$(pgrep -o -f "nginx-cache.conf")
    INSPECT_PORT=
    measure "nginx-cache" "$master $(pgrep -P "$master" | tr '\n' ' ')" "http://127.0.0.1:27103"
  fi
done
