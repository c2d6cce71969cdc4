#!/usr/bin/env bash
# Web-cache hit/miss throughput benchmark: origin + caches on loopback, measured with wrk,
# targets interleaved round-robin so every target sees the same machine noise.
#
#   bench/peers/run.sh [options] [TARGET ...]      (or: deno task bench:peers [options] [TARGET ...])
#
# TARGET is  name  (a built-in, started on its default port)  or  name=url  (base URL, no
# trailing path). A name=url that is not a built-in must already be running, or be started by
# the harness with  -c 'name=shell command'  (run in its own session and stopped at the end;
# $ORIGIN_URL and $TARGET_PORT are exported to it). A target must be a reverse proxy of the
# origin: GET <url>/obj/<id>?size=<n> must return the origin's /obj/<id>?size=<n>.
#
# Built-ins, memory caches: squid varnish nginx-cache ats webcache deno-naive deno-naive-2p
# Built-ins, disk caches:   squid-disk nginx-disk webcache-disk webcache-rock   (stores under DISK_DIR)
# Built-ins, before/after:  webcache-before webcache-before-disk webcache-before-rock: their namesakes
#                           run from the bundle of BEFORE_REV (a git revision this clone has, built
#                           here) or BEFORE_JS (a bundle), so one run shows a change before and after
# Built-ins, upper bounds:  nginx-static deno-static deno-static-2p
# webcache, webcache-disk and webcache-rock are this repository's cache role (dist/webcache.js, built here).
# Default target list: squid varnish nginx-cache ats webcache squid-disk nginx-disk webcache-disk.
# A target whose name ends in -disk or -rock is compared with the -disk peers, any other with the rest.
#
# Options:
#   -c name=CMD   start CMD for target name (e.g. the Deno cache under test)
#   -b name       treat name as an upper bound (hit scenarios only, not a peer)
#   -h            this help
#
# Environment (defaults):
#   DURATION=10s CONNS=64 THREADS=1   wrk -t$THREADS -c$CONNS -d$DURATION per measurement
#   ROUNDS=3                          rounds; each round runs every scenario x every target
#   SCENARIOS="hot spread big miss pass"
#   PEERS="squid varnish nginx-cache ats squid-disk nginx-disk"   the targets "ratio to best
#                                     peer" compares against (-disk targets with -disk peers)
#   WARMUP=2s                         wrk warm-up per target and scenario before round 1 (0 = none)
#   WARM_PASSES=4                     curl passes over every hit object before the wrk warm-up
#   PAUSE=1                           seconds of rest between measurements
#   SPREAD_N=10000 BIG_N=100 SMALL_SIZE=1024 BIG_SIZE=102400
#   ORIGIN_PORT=27080 WORKERS=2 RUN_DIR=/dev/shm/cachebench OUT_DIR=bench/results
#   DISK_DIR=OUT_DIR/disk-stores      the -disk targets' stores (a real file system, not tmpfs)
#   DROP_CACHES=0                     1: before every measurement, sync and drop the kernel's page
#                                     cache (root only; the whole machine's) so disk hits are cold
#   WEBCACHE_WORKERS=WORKERS          webcache's --workers
#   BEFORE_REV= BEFORE_JS=            the webcache-before targets' revision or bundle (see above)
#
# Scenarios:
#   hot     one 1 KiB object, every request a hit (no per-request Lua in wrk)
#   spread  10,000 objects of 1 KiB, uniform random, all hits
#   big     100 objects of 100 KiB, uniform random, all hits
#   miss    every URL unique: a miss that is fetched from the origin and stored
#   pass    origin answers Cache-Control: no-store: pure forwarding cost
#
# Output: a markdown report on stdout (also OUT_DIR/<run-id>/summary.md), the aggregate as
# OUT_DIR/<run-id>/summary.json and every single measurement as OUT_DIR/<run-id>/raw.jsonl.
set -Eeuo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export ORIGIN_PORT=${ORIGIN_PORT:-27080}
source "$BENCH_DIR/lib/common.sh"
source "$BENCH_DIR/lib/targets.sh"

DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-1}
ROUNDS=${ROUNDS:-3}
SCENARIOS=${SCENARIOS:-"hot spread big miss pass"}
PEERS=${PEERS:-"squid varnish nginx-cache ats squid-disk nginx-disk"}
WARMUP=${WARMUP:-2s}
WARM_PASSES=${WARM_PASSES:-4}
PAUSE=${PAUSE:-1}
SPREAD_N=${SPREAD_N:-10000}
BIG_N=${BIG_N:-100}
SMALL_SIZE=${SMALL_SIZE:-1024}
BIG_SIZE=${BIG_SIZE:-102400}
WRK_TIMEOUT=${WRK_TIMEOUT:-5s}
OUT_DIR=${OUT_DIR:-$(cd "$BENCH_DIR/.." && pwd)/results}
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
DISK_DIR=${DISK_DIR:-$OUT_DIR/disk-stores}
DROP_CACHES=${DROP_CACHES:-0}
HIT_SCENARIOS=" hot spread big "
NCPU=$(nproc)
HZ=$(getconf CLK_TCK)

usage() { sed -n '2,/^set -E/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit "${1:-0}"; }

declare -A TARGET_URL=() TARGET_CMD=() TARGET_KIND=()
TARGETS=()
EXTRA_BOUNDS=" "
POSITIONAL=()
while (($# > 0)); do   # options may come before or after the targets
  case $1 in
    -c) (($# >= 2)) && [[ $2 == *=* ]] || die "-c wants name=command"
        TARGET_CMD[${2%%=*}]=${2#*=}; shift 2 ;;
    -b) (($# >= 2)) || die "-b wants a target name"; EXTRA_BOUNDS+="$2 "; shift 2 ;;
    -h|--help) usage 0 ;;
    -*) die "unknown option $1 (see -h)" ;;
    *) POSITIONAL+=("$1"); shift ;;
  esac
done
set -- ${POSITIONAL[@]+"${POSITIONAL[@]}"}
(($# > 0)) || set -- squid varnish nginx-cache ats webcache squid-disk nginx-disk webcache-disk

for spec in "$@"; do
  name=${spec%%=*}
  [[ $name =~ ^[A-Za-z0-9_.-]+$ ]] || die "bad target name '$name' (use [A-Za-z0-9_.-])"
  [[ -z ${TARGET_URL[$name]:-} ]] || die "target '$name' given twice"
  if [[ $spec == *=* ]]; then
    url=${spec#*=}
  elif [[ -n ${BUILTIN_PORT[$name]:-} ]]; then
    url="http://127.0.0.1:${BUILTIN_PORT[$name]}"
  else
    die "unknown target '$name': give it as name=url"
  fi
  url=${url%/}
  [[ $url =~ ^http://(127\.[0-9]+\.[0-9]+\.[0-9]+|localhost|\[::1\]):[0-9]+$ ]] ||
    die "target $name: '$url' is not http://<loopback>:<port> (only loopback may be benchmarked)"
  TARGET_URL[$name]=$url
  if [[ $BUILTIN_BOUNDS == *" $name "* || $EXTRA_BOUNDS == *" $name "* ]]; then
    TARGET_KIND[$name]=bound
  else
    TARGET_KIND[$name]=cache
  fi
  TARGETS+=("$name")
done
for name in "${!TARGET_CMD[@]}"; do
  [[ -n ${TARGET_URL[$name]:-} ]] || die "-c $name=...: no target named $name"
done

for tool in wrk curl nginx awk setsid flock ss; do command -v "$tool" > /dev/null || die "$tool not found (see bench/peers/install.sh)"; done
resolve_deno
export DENO
DENO_RUN[0]=$DENO
for t in "${TARGETS[@]}"; do
  case $t in
    squid | squid-disk) command -v squid > /dev/null || die "squid not found (see bench/peers/install.sh)" ;;
    varnish) command -v varnishd > /dev/null || die "varnishd not found (see bench/peers/install.sh)" ;;
    ats) command -v traffic_server > /dev/null || die "traffic_server not found (see bench/peers/install.sh)" ;;
  esac
done
if [[ " ${TARGETS[*]} " == *" webcache"* ]]; then
  log "building dist/webcache.js (deno task build)"
  (cd "$BENCH_DIR/../.." && "$DENO" task build > /dev/null) || die "deno task build failed"
fi
if [[ $DROP_CACHES == 1 && ! -w /proc/sys/vm/drop_caches ]]; then
  die "DROP_CACHES=1 needs root (writes /proc/sys/vm/drop_caches)"
fi

# ---------------------------------------------------------------- run directory, lock, cleanup
mkdir -p "$RUN_DIR"
exec 9> "$RUN_DIR.lock"
flock -n 9 || die "another bench/run.sh holds $RUN_DIR.lock"
RUN_ID=$(date -u +%Y%m%dT%H%M%SZ)
RES=$OUT_DIR/$RUN_ID
mkdir -p "$RES"
RAW=$RES/raw.jsonl
: > "$RAW"
# cache stores live in tmpfs (RAM): drop the big ones once the servers are down
trap 'log "stopping servers"; stop_all; rm -rf "$RUN_DIR/nginx-cache-store" "$RUN_DIR/ats-cache.db" "$RUN_DIR/ats/cache" "$DISK_DIR"/{webcache*,nginx,squid}' EXIT
trap 'exit 130' INT TERM
trap 'log "ERROR: line $LINENO: $BASH_COMMAND failed"' ERR

port_free() { ! ss -Htln "sport = :$1" | grep -q .; }

# ---------------------------------------------------------------- the "before" bundle
if [[ " ${TARGETS[*]} " == *" webcache-before"* && -z ${BEFORE_JS:-} ]]; then
  [[ -n ${BEFORE_REV:-} ]] || die "the webcache-before targets need BEFORE_REV (a git revision) or BEFORE_JS (a bundle)"
  src=$(mktemp -d "$RUN_DIR/before-src.XXXXXX")
  log "building the bundle of $BEFORE_REV (webcache-before targets)"
  git -C "$BENCH_DIR/../.." archive "$BEFORE_REV" | tar -x -C "$src" || die "BEFORE_REV=$BEFORE_REV: git archive failed"
  (cd "$src" && "$DENO" task build > /dev/null) || die "BEFORE_REV=$BEFORE_REV: deno task build failed"
  cp "$src/dist/webcache.js" "$RUN_DIR/webcache-before.js"
  rm -rf "$src"
  WEBCACHE_BEFORE_JS=$RUN_DIR/webcache-before.js
fi

# ---------------------------------------------------------------- origin
gen_data "$SMALL_SIZE" "$BIG_SIZE"
port_free "$ORIGIN_PORT" || die "origin port $ORIGIN_PORT is in use"
start_origin
wait_http "$ORIGIN_URL/__status" 20 || die "origin did not come up (see $RUN_DIR/origin.*)"

origin_count() { curl -s --max-time 2 "$ORIGIN_URL/__status" | awk 'NR == 3 { print $3 }'; }

# ---------------------------------------------------------------- targets
declare -A TARGET_SID=()
for t in "${TARGETS[@]}"; do
  url=${TARGET_URL[$t]}
  port=$(port_of "$url")
  if [[ -n ${TARGET_CMD[$t]:-} ]] || declare -F "start_$t" > /dev/null; then
    port_free "$port" || die "port $port for $t is in use"
    if [[ -n ${TARGET_CMD[$t]:-} ]]; then
      start_bg "$t" env TARGET_PORT="$port" bash -c "${TARGET_CMD[$t]}"
    else
      "start_$t" "$port"
    fi
    TARGET_SID[$t]=${STARTED_PID[$t]}
  else
    log "$t: external target at $url (not started here, CPU not attributed)"
  fi
done
for t in "${TARGETS[@]}"; do
  wait_http "${TARGET_URL[$t]}/obj/health?size=$SMALL_SIZE" 60 ||
    die "$t did not answer at ${TARGET_URL[$t]} (see $RUN_DIR/$t.out)"
done
log "all targets up: ${TARGETS[*]}"

# ---------------------------------------------------------------- correctness + caching check
declare -A ORIGIN_FETCHES=()
for t in "${TARGETS[@]}"; do
  url=${TARGET_URL[$t]}
  for s in "$SMALL_SIZE" "$BIG_SIZE"; do
    curl -s --max-time 5 "$url/obj/check-$RUN_ID?size=$s" | cmp -s - "$RUN_DIR/data/sizes/$s" ||
      die "$t: body of /obj/check-$RUN_ID?size=$s differs from the origin's"
  done
  before=$(origin_count)
  for i in 1 2 3; do curl -s -o /dev/null --max-time 5 "$url/obj/cachecheck-$RUN_ID-$t?size=$SMALL_SIZE"; done
  after=$(origin_count)
  fetched=$((after - before - 1))
  ORIGIN_FETCHES[$t]=$fetched
  if [[ ${TARGET_KIND[$t]} == cache ]]; then
    if ((fetched == 0 || fetched >= 3)); then
      log "WARNING: $t sent $fetched origin requests for 3 requests of one cacheable object (expected 1)"
    elif ((fetched == 2)); then
      log "note: $t sent 2 origin requests for 3 requests of one object (per-process caches?)"
    fi
  fi
done

# ---------------------------------------------------------------- one measurement
# wrk_args SCENARIO TARGET TAG -> sets WRK_URL and LUA_ARGS
wrk_args() {
  local sc=$1 t=$2 tag=$3 url=${TARGET_URL[$2]}
  case $sc in
    hot)    WRK_URL="$url/obj/hot-1k?size=$SMALL_SIZE"; LUA_ARGS=(static) ;;
    spread) WRK_URL="$url/"; LUA_ARGS=(spread /obj/s1k- "$SPREAD_N" "$SMALL_SIZE") ;;
    big)    WRK_URL="$url/"; LUA_ARGS=(spread /obj/s100k- "$BIG_N" "$BIG_SIZE") ;;
    miss)   WRK_URL="$url/"; LUA_ARGS=(unique /obj/miss- "$RUN_ID-$tag-$t" "$SMALL_SIZE") ;;
    pass)   WRK_URL="$url/"; LUA_ARGS=(spread /nostore/p- "$SPREAD_N" "$SMALL_SIZE") ;;
    *) die "unknown scenario $sc" ;;
  esac
}

runs_scenario() { [[ ${TARGET_KIND[$2]} == cache || $HIT_SCENARIOS == *" $1 "* ]]; }

# measure ROUND SCENARIO TARGET -> appends one JSON line to $RAW
measure() {
  local round=$1 sc=$2 t=$3 out=$RES/wrk-r$1-$2-$3.txt tfile=$RUN_DIR/time.txt
  local sids="${STARTED_PID[origin]} ${TARGET_SID[$t]:-0}"
  wrk_args "$sc" "$t" "r$round"
  local o1 o2 c1 c2 json
  if [[ $DROP_CACHES == 1 ]]; then sync; echo 3 > /proc/sys/vm/drop_caches; fi
  o1=$(origin_count)
  c1=$(cpu_snapshot $sids)
  TIMEFORMAT='%U %S'
  { time wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout "$WRK_TIMEOUT" \
      -s "$BENCH_DIR/lua/bench.lua" "$WRK_URL" -- "${LUA_ARGS[@]}" > "$out" 2>&1; } 2> "$tfile" || true
  c2=$(cpu_snapshot $sids)
  o2=$(origin_count)
  json=$(grep -m1 '^WRKJSON ' "$out" | cut -d' ' -f2-) || true
  if [[ -z $json ]]; then
    log "WARNING: no result from wrk for $t/$sc round $round (see $out)"
    json='{"requests":0,"rps":0}'
  fi
  read -r wu ws < "$tfile"
  # cpu: total busy idle steal origin target (ticks)
  read -r -a A <<< "$c1"
  read -r -a B <<< "$c2"
  local wall=$((B[0] - A[0]))
  printf '%s,"round":%d,"scenario":"%s","target":"%s","kind":"%s","url":"%s","origin_requests":%d,"cpu_cores":{"machine_busy":%s,"steal":%s,"origin":%s,"target":%s,"wrk":%s},"wall_ticks":%d}\n' \
    "${json%\}}" "$round" "$sc" "$t" "${TARGET_KIND[$t]}" "$WRK_URL" "$((o2 - o1 - 1))" \
    "$(awk -v v=$((B[1] - A[1])) -v w=$wall -v n=$NCPU 'BEGIN{printf "%.3f", w ? n*v/w : 0}')" \
    "$(awk -v v=$((B[3] - A[3])) -v w=$wall -v n=$NCPU 'BEGIN{printf "%.3f", w ? n*v/w : 0}')" \
    "$(awk -v v=$((B[4] - A[4])) -v w=$wall -v n=$NCPU 'BEGIN{printf "%.3f", w ? n*v/w : 0}')" \
    "$(awk -v v=$((B[5] - A[5])) -v w=$wall -v n=$NCPU 'BEGIN{printf "%.3f", w ? n*v/w : 0}')" \
    "$(awk -v u="$wu" -v s="$ws" -v v=$wall -v n=$NCPU -v hz="$HZ" 'BEGIN{printf "%.3f", v ? n*(u+s)*hz/v : 0}')" \
    "$wall" >> "$RAW"
  log "r$round $sc $t: $(grep -m1 '^Requests/sec' "$out" | awk '{print $2}') req/s, origin requests $((o2 - o1 - 1))"
}

# ---------------------------------------------------------------- warm-up
# wrk_warm SCENARIO...  -- WARMUP seconds of each scenario on each target, results discarded
wrk_warm() {
  [[ $WARMUP != 0 && $WARMUP != 0s ]] || return 0
  local sc t
  for sc in "$@"; do
    for t in "${TARGETS[@]}"; do
      runs_scenario "$sc" "$t" || continue
      wrk_args "$sc" "$t" warm
      wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" --timeout "$WRK_TIMEOUT" \
        -s "$BENCH_DIR/lua/bench.lua" "$WRK_URL" -- "${LUA_ARGS[@]}" > "$RUN_DIR/warm-wrk.txt" 2>&1 || true
    done
  done
}

# Miss/pass warm-up first (it adds objects), then load every hit object WARM_PASSES times
# through curl (several passes, so multi-process caches with per-process maps see most objects
# in every process), then the hit scenarios' wrk warm-up.
PHASE1=() PHASE2=()
for sc in $SCENARIOS; do
  if [[ $HIT_SCENARIOS == *" $sc "* ]]; then PHASE1+=("$sc"); else PHASE2+=("$sc"); fi
done
wrk_warm "${PHASE2[@]}"
warm_cfg=$RUN_DIR/warm-urls
for t in "${TARGETS[@]}"; do
  url=${TARGET_URL[$t]}
  {
    printf 'url = "%s/obj/hot-1k?size=%s"\noutput = "/dev/null"\n' "$url" "$SMALL_SIZE"
    for ((i = 0; i < SPREAD_N; i++)); do printf 'url = "%s/obj/s1k-%d?size=%s"\noutput = "/dev/null"\n' "$url" "$i" "$SMALL_SIZE"; done
    for ((i = 0; i < BIG_N; i++)); do printf 'url = "%s/obj/s100k-%d?size=%s"\noutput = "/dev/null"\n' "$url" "$i" "$BIG_SIZE"; done
  } > "$warm_cfg"
  for ((pass = 0; pass < WARM_PASSES; pass++)); do curl -s -Z --parallel-max 16 -K "$warm_cfg" 2> /dev/null || true; done
  log "warmed $t ($((SPREAD_N + BIG_N + 1)) objects, $WARM_PASSES passes)"
done
wrk_warm "${PHASE1[@]}"
log "warm-up done"

# ---------------------------------------------------------------- machine description
{
  printf '{"run_id":"%s","started":"%s","nproc":%d,"cpu_model":"%s","mem_total_kb":%d,"kernel":"%s",' \
    "$RUN_ID" "$(date -u +%FT%TZ)" "$NCPU" \
    "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)" \
    "$(awk '/^MemTotal/ {print $2}' /proc/meminfo)" "$(uname -r)"
  printf '"wrk":"wrk -t%s -c%s -d%s --timeout %s","rounds":%d,"scenarios":"%s","peers":"%s","drop_caches":%s,' \
    "$THREADS" "$CONNS" "$DURATION" "$WRK_TIMEOUT" "$ROUNDS" "$SCENARIOS" "$PEERS" \
    "$([[ $DROP_CACHES == 1 ]] && echo true || echo false)"
  printf '"spread_n":%d,"big_n":%d,"small_size":%d,"big_size":%d,"workers":%d,"targets":[' \
    "$SPREAD_N" "$BIG_N" "$SMALL_SIZE" "$BIG_SIZE" "$WORKERS"
  sep=""
  for t in "${TARGETS[@]}"; do
    printf '%s{"name":"%s","url":"%s","kind":"%s","started_here":%s,"origin_fetches_for_3_requests":%d}' \
      "$sep" "$t" "${TARGET_URL[$t]}" "${TARGET_KIND[$t]}" \
      "$([[ -n ${TARGET_SID[$t]:-} ]] && echo true || echo false)" "${ORIGIN_FETCHES[$t]}"
    sep=","
  done
  printf '],"versions":{"squid":"%s","varnish":"%s","nginx":"%s","ats":"%s","deno":"%s","wrk":"%s"}}\n' \
    "$(squid -v 2> /dev/null | awk 'NR==1 {print $4}')" \
    "$(varnishd -V 2>&1 | sed -n 's/.*(varnish-\([^ ]*\) .*/\1/p' | head -1)" \
    "$(nginx -v 2>&1 | sed 's|.*nginx/||')" \
    "$(traffic_server --version 2> /dev/null | awk '/Traffic Server/ {print $3; exit}')" \
    "$("$DENO" --version | awk 'NR==1 {print $2}')" \
    "$( (wrk -v 2>&1 || true) | awk 'NR==1 {print $2}')"
} > "$RES/meta.json"

# ---------------------------------------------------------------- rounds (interleaved)
# Phase 1 runs the hit scenarios, phase 2 the miss/pass ones, each phase ROUNDS rounds of
# "every scenario x every target" in the same target order. Miss runs fill caches with tens of
# thousands of new objects; running them last keeps the hit working set undisturbed (Squid's
# shared memory cache, for one, evicts on hash-slot collisions).
total=0
for sc in $SCENARIOS; do
  for t in "${TARGETS[@]}"; do runs_scenario "$sc" "$t" && total=$((total + ROUNDS)); done
done
log "measuring: $ROUNDS rounds, $total runs of $DURATION each"
for phase in PHASE1 PHASE2; do
  declare -n PH=$phase
  for ((r = 1; r <= ROUNDS; r++)); do
    for sc in "${PH[@]}"; do
      for t in "${TARGETS[@]}"; do
        runs_scenario "$sc" "$t" || continue
        sleep "$PAUSE"
        measure "$r" "$sc" "$t"
      done
    done
  done
  unset -n PH
done

# ---------------------------------------------------------------- report
"$DENO" run --quiet --no-prompt --allow-read="$RES" --allow-write="$RES" \
  "$BENCH_DIR/lib/summarize.ts" "$RES" > "$RES/summary.md"
ln -sfn "$RUN_ID" "$OUT_DIR/latest"
cat "$RES/summary.md"
log "results: $RES/summary.json (aggregate), $RES/raw.jsonl (every run), $RES/summary.md"
