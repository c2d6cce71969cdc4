# Shared helpers for bench/peers/run.sh (sourced, not executed).
# Every server is started with setsid, so its pid is also its session id: CPU accounting sums
# /proc/*/stat by session, and stopping signals only the pids recorded here.

BENCH_DIR=${BENCH_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
RUN_DIR=${RUN_DIR:-/dev/shm/cachebench}
ORIGIN_PORT=${ORIGIN_PORT:-8080}
ORIGIN_URL="http://127.0.0.1:${ORIGIN_PORT}"
WORKERS=${WORKERS:-2}
BODY_PATTERN="cachebench-0123456789abcdefghijklmnopqrstuvwxyz"   # + "\n", repeated (see deno/static.ts)

# name -> pid of everything this run started, in start order
declare -A STARTED_PID=()
STARTED_ORDER=()

# The deno binary: $DENO, else deno on PATH, else the one npx caches for the project's version.
resolve_deno() {
  if [[ -n ${DENO:-} ]]; then return 0; fi
  if command -v deno > /dev/null; then DENO=$(command -v deno); return 0; fi
  DENO=$(npx -y "deno@${DENO_VERSION:-2.9.6}" eval 'console.log(Deno.execPath())' 2> /dev/null) || DENO=
  [[ -n $DENO && -x $DENO ]] || die "deno not found: put it on PATH, set DENO=/path/to/deno or run bench/peers/install.sh"
}

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# render TEMPLATE OUT NAME PORT [STORE]  -- substitute @NAME@ @PORT@ @WORKERS@ @RUN@ @DATA@
# @ORIGIN_PORT@ and @STORE@ (a cache store directory; default $RUN_DIR/NAME-store, on tmpfs)
render() {
  local tmpl=$1 out=$2 name=$3 port=$4 store=${5:-$RUN_DIR/$3-store}
  sed -e "s|@NAME@|${name}|g" -e "s|@PORT@|${port}|g" -e "s|@WORKERS@|${WORKERS}|g" \
      -e "s|@RUN@|${RUN_DIR}|g" -e "s|@DATA@|${RUN_DIR}/data|g" -e "s|@STORE@|${store}|g" \
      -e "s|@ORIGIN_PORT@|${ORIGIN_PORT}|g" "$tmpl" > "$out"
}

# gen_data SIZE...  -- deterministic bodies, fixed mtime (so Last-Modified is stable)
gen_data() {
  mkdir -p "$RUN_DIR/data/sizes"
  local s f
  for s in "$@"; do
    f="$RUN_DIR/data/sizes/$s"
    if [[ ! -f $f || $(stat -c %s "$f") != "$s" ]]; then
      { yes "$BODY_PATTERN" || true; } | head -c "$s" > "$f"   # yes dies of SIGPIPE: fine
      [[ $(stat -c %s "$f") == "$s" ]] || die "could not generate $f"
    fi
    touch -d '2024-01-01 00:00:00 UTC' "$f"
  done
}

port_of() { local u=${1#*://}; u=${u%%/*}; echo "${u##*:}"; }

# wait_http URL [timeout_s]  -- until the URL answers anything at all
wait_http() {
  local url=$1 t=${2:-30} i
  for ((i = 0; i < t * 10; i++)); do
    curl -s -o /dev/null --max-time 1 "$url" && return 0
    sleep 0.1
  done
  return 1
}

# start_bg NAME CMD...  -- run CMD in its own session, output to $RUN_DIR/NAME.out
start_bg() {
  local name=$1; shift
  setsid "$@" > "$RUN_DIR/$name.out" 2>&1 < /dev/null &
  local pid=$!
  STARTED_PID[$name]=$pid
  STARTED_ORDER+=("$name")
  log "started $name (pid $pid): $*"
}

# alive PID -- the process exists and is not a zombie
alive() {
  local st
  st=$(awk '{ sub(/^[0-9]+ \(.*\) /, ""); print $1 }' "/proc/$1/stat" 2> /dev/null) || return 1
  [[ -n $st && $st != Z ]]
}

# group_alive PGID -- some non-zombie process is still in that process group
group_alive() {
  { cat /proc/[0-9]*/stat 2> /dev/null || true; } |   # processes may vanish mid-read
    awk -v g="$1" '{ sub(/^[0-9]+ \(.*\) /, ""); if ($3 == g && $1 != "Z") f = 1 } END { exit !f }'
}

# stop_one NAME  -- TERM the recorded pid; then TERM, and at last KILL, whatever is left of the
# process group it leads (squid kids, nginx workers, a wrapper's children). Only ids we started.
stop_one() {
  local name=$1 pid=${STARTED_PID[$1]:-} i
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2> /dev/null || true
  for ((i = 0; i < 100; i++)); do alive "$pid" || break; sleep 0.1; done
  wait "$pid" 2> /dev/null || true
  if group_alive "$pid"; then
    kill -TERM -- "-$pid" 2> /dev/null || true
    for ((i = 0; i < 30; i++)); do group_alive "$pid" || break; sleep 0.1; done
    if group_alive "$pid"; then
      log "$name (pgid $pid) still running, sending KILL"
      kill -KILL -- "-$pid" 2> /dev/null || true
    fi
  fi
  unset "STARTED_PID[$name]"
}

stop_all() {
  local i
  for ((i = ${#STARTED_ORDER[@]} - 1; i >= 0; i--)); do stop_one "${STARTED_ORDER[$i]}"; done
  STARTED_ORDER=()
}

# cpu_snapshot SID...  -- prints "total busy idle steal sid1_ticks sid2_ticks ..." (clock ticks)
cpu_snapshot() {
  local sids="$*"
  {
    head -1 /proc/stat
    cat /proc/[0-9]*/stat 2> /dev/null || true   # processes may vanish mid-read
  } | awk -v sids="$sids" '
    NR == 1 { busy = $2 + $3 + $4 + $7 + $8; idle = $5 + $6; steal = $9; next }
    { line = $0; sub(/^[0-9]+ \(.*\) /, "", line); split(line, f, " ")
      t[f[4]] += f[12] + f[13] }
    END { n = split(sids, s, " "); out = (busy + idle + steal) " " busy " " idle " " steal
          for (i = 1; i <= n; i++) out = out " " (t[s[i]] + 0); print out }'
}
