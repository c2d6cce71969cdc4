#!/usr/bin/env bash
# TLS benchmark: webcache, nginx proxy_cache and Apache Traffic Server, each terminating TLS on
# 127.0.0.1 with the same certificate (ECDSA P-256, made here with openssl), in front of one plain
# nginx origin, measured interleaved in one run with wrk:
#
#   hot-ka   one 1 KiB URL, keep-alive, wrk -t1 -c64       (TLS hits: record layer cost)
#   new-conn the same URL, "Connection: close", wrk -t1 -c16 (a full handshake per request)
#
# For each target: req/s, p99 latency, and requests per CPU-second of the target's own processes
# (utime+stime summed over its session from /proc, so wrk and the origin are not counted).
#
#   bench/tls_peers.sh                  # 2 rounds x 10 s per scenario and target (~3 min)
#   DURATION=5s ROUNDS=1 bench/tls_peers.sh
#   TARGETS="webcache nginx" bench/tls_peers.sh
#   SMOKE=1 bench/tls_peers.sh          # start everything, check the answers, measure nothing
#
# Needs: nginx, trafficserver, wrk, openssl, curl (Debian packages), and dist/webcache.js
# (deno task build). Writes bench/results/tls-<time>/ (summary.md, wrk outputs). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TLS_CONF=$ROOT/bench/tls
RUN=${RUN_DIR:-/dev/shm/webcache-tlsbench}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-2}
WORKERS=${WORKERS:-2}
TARGETS=${TARGETS:-"webcache nginx ats"}
ORIGIN_PORT=28080
ADMIN_PORT=28490
declare -A PORT=([webcache]=28443 [nginx]=28444 [ats]=28445)
OUT=$ROOT/bench/results/tls-$(date -u +%Y%m%dT%H%M%SZ)
DENO=${DENO:-$(command -v deno || true)}
if [[ -z $DENO ]]; then DENO=(npx -y deno@2.9.6); else DENO=("$DENO"); fi
CLK_TCK=$(getconf CLK_TCK)

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
for t in nginx traffic_server wrk openssl curl; do command -v "$t" > /dev/null || die "$t is not installed"; done
[[ -f dist/webcache.js ]] || die "dist/webcache.js missing: run deno task build"

declare -A PID=()
stop_all() {
  local n
  for n in "${!PID[@]}"; do kill -TERM -- "-${PID[$n]}" 2> /dev/null || true; done
  sleep 1
  for n in "${!PID[@]}"; do kill -KILL -- "-${PID[$n]}" 2> /dev/null || true; done
}
trap stop_all EXIT

render() { # TEMPLATE OUT PORT
  sed -e "s|@RUN@|$RUN|g" -e "s|@PORT@|$3|g" -e "s|@ORIGIN_PORT@|$ORIGIN_PORT|g" \
    -e "s|@WORKERS@|$WORKERS|g" -e "s|@ADMIN_PORT@|$ADMIN_PORT|g" "$1" > "$2"
}
start_bg() { # NAME CMD...   (own session: its pid is its session id, for CPU accounting)
  local name=$1; shift
  setsid "$@" > "$RUN/$name.out" 2>&1 < /dev/null &
  PID[$name]=$!
  log "started $name (pid ${PID[$name]})"
}
# cpu_ticks SID: utime+stime of every process in that session
cpu_ticks() {
  { cat /proc/[0-9]*/stat 2> /dev/null || true; } |
    awk -v s="$1" '{ sub(/^[0-9]+ \(.*\) /, ""); if ($4 == s) t += $12 + $13 } END { print t + 0 }'
}
wait_https() { # URL
  local i
  for ((i = 0; i < 300; i++)); do
    curl -s -o /dev/null --max-time 1 --cacert "$RUN/tls/ca.pem" "$1" && return 0
    sleep 0.1
  done
  return 1
}

rm -rf "$RUN" && mkdir -p "$RUN"/{tls,data,origin-tmp,nginx-tmp} "$OUT"
log "certificates (ECDSA P-256) in $RUN/tls"
(
  cd "$RUN/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 \
    -subj "/CN=tls bench CA" -addext basicConstraints=critical,CA:TRUE 2> /dev/null
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout site.key -out site.csr \
    -subj /CN=127.0.0.1 2> /dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > site.ext
  openssl x509 -req -in site.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out site.pem -days 2 \
    -extfile site.ext 2> /dev/null
  chmod 600 site.key ca.key
)
head -c 1024 < /dev/zero | tr '\0' 'x' > "$RUN/data/1024"

render "$TLS_CONF/origin.nginx.conf" "$RUN/origin.conf" 0
start_bg origin nginx -c "$RUN/origin.conf"

start_target() {
  case $1 in
    webcache)
      render "$TLS_CONF/webcache.yaml" "$RUN/webcache.yaml" "${PORT[webcache]}"
      start_bg webcache "${DENO[@]}" run -A --unstable-kv --unstable-net --v8-flags=--no-memory-reducer,--max-semi-space-size=16 \
        dist/webcache.js cache --config "$RUN/webcache.yaml"
      ;;
    nginx)
      render "$TLS_CONF/nginx-tls.conf" "$RUN/nginx-tls.conf" "${PORT[nginx]}"
      start_bg nginx nginx -c "$RUN/nginx-tls.conf"
      ;;
    ats)
      local d=$RUN/ats f
      mkdir -p "$d"/{etc,var,run,log,cache,tls}
      render "$TLS_CONF/ats/runroot.yaml" "$d/runroot.yaml" "${PORT[ats]}"
      for f in records.config remap.config storage.config ssl_multicert.config; do
        render "$TLS_CONF/ats/$f" "$d/etc/$f" "${PORT[ats]}"
      done
      cp "$TLS_CONF/ats/ip_allow.yaml" "$d/etc/"
      for f in plugin.config cache.config hosting.config parent.config volume.config splitdns.config socks.config; do
        : > "$d/etc/$f"
      done
      echo 'sni: []' > "$d/etc/sni.yaml"
      echo 'logging: {}' > "$d/etc/logging.yaml"
      cp "$RUN/tls/site.pem" "$RUN/tls/site.key" "$d/tls/"
      truncate -s 512M "$RUN/ats-cache.db"
      chown -R trafficserver:trafficserver "$d"/{var,run,log,cache,tls} "$RUN/ats-cache.db"
      start_bg ats env TS_RUNROOT="$d/runroot.yaml" traffic_server
      ;;
    *) die "unknown target $1" ;;
  esac
}
for t in $TARGETS; do start_target "$t"; done
URL_PATH=/obj/hot
for t in $TARGETS; do
  url="https://127.0.0.1:${PORT[$t]}$URL_PATH"
  wait_https "$url" || die "$t did not answer on $url (see $RUN/$t.out)"
  body=$(curl -s --cacert "$RUN/tls/ca.pem" "$url")
  [[ ${#body} == 1024 ]] || die "$t answered ${#body} bytes instead of 1024"
  for _ in 1 2 3 4 5 6 7 8; do curl -s -o /dev/null --cacert "$RUN/tls/ca.pem" "$url"; done
  log "$t ready: $url"
done
if [[ -n ${SMOKE:-} ]]; then log "SMOKE set: targets answer; not measuring"; exit 0; fi

# measure SCENARIO TARGET ROUND -> appends a TSV row to $OUT/raw.tsv
measure() {
  local sc=$1 t=$2 r=$3 url="https://127.0.0.1:${PORT[$2]}$URL_PATH" args f before after
  if [[ $sc == hot-ka ]]; then args=(-t1 -c64); else args=(-t1 -c16 -s "$TLS_CONF/conn_close.lua"); fi
  f=$OUT/wrk-r$r-$sc-$t.txt
  wrk "${args[@]}" -d2s "$url" > /dev/null 2>&1 || true # warm-up
  before=$(cpu_ticks "${PID[$t]}")
  wrk "${args[@]}" -d"$DURATION" --latency "$url" > "$f" 2>&1
  after=$(cpu_ticks "${PID[$t]}")
  local rps p99 errs cpu_s
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$f")
  p99=$(awk '$1 == "99%" { print $2 }' "$f")
  errs=$(awk '/Non-2xx|Socket errors/ { print }' "$f" | tr '\n' ' ')
  cpu_s=$(awk -v a="$after" -v b="$before" -v h="$CLK_TCK" 'BEGIN { printf "%.2f", (a - b) / h }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$sc" "$t" "$r" "$rps" "$p99" "$cpu_s" \
    "$(awk '/requests in/ { print $1 }' "$f")" "$errs" >> "$OUT/raw.tsv"
  log "r$r $sc $t: $rps req/s, p99 $p99, cpu ${cpu_s}s ${errs}"
}
: > "$OUT/raw.tsv"
for ((r = 1; r <= ROUNDS; r++)); do
  for sc in hot-ka new-conn; do
    for t in $TARGETS; do measure "$sc" "$t" "$r"; done
  done
done

# Summary: median req/s over rounds, requests per CPU-second (sum of requests / sum of CPU), p99.
{
  echo "# TLS benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $ROUNDS rounds x $DURATION, workers $WORKERS)"
  echo
  echo "| scenario | target | req/s (median) | vs best peer | req per CPU-s | CPU-s per s | p99 (worst round) |"
  echo "|---|---|---:|---:|---:|---:|---:|"
  awk -F'\t' -v dur="${DURATION%s}" '
    { k = $1 SUBSEP $2; n[k]++; rps[k, n[k]] = $4; req[k] += $7; cpu[k] += $6
      p = $5; v = p + 0; if (p ~ /us$/) v /= 1000; else if (p ~ /ms$/) v += 0; else if (p ~ /s$/) v *= 1000
      if (v > worst[k]) { worst[k] = v; wtxt[k] = p }
      sc[$1] = 1; tg[$2] = 1; if (!($2 in order)) order[$2] = ++no }
    function median(k,   i, j, t, a, m) {
      m = n[k]; for (i = 1; i <= m; i++) a[i] = rps[k, i] + 0
      for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
    END {
      split("hot-ka new-conn", scs, " ")
      for (s = 1; s <= 2; s++) { c = scs[s]; if (!(c in sc)) continue
        for (t in tg) { med[t] = median(c SUBSEP t) }
        for (i = 1; i <= no; i++) for (t in order) if (order[t] == i) {
          k = c SUBSEP t; best = 0
          for (u in tg) if (u != t && u != "webcache" && med[u] > best) best = med[u]
          if (t == "webcache") { best = 0; for (u in tg) if (u != "webcache" && med[u] > best) best = med[u] }
          ratio = best > 0 ? sprintf("%.2fx", med[t] / best) : "-"
          per = cpu[k] > 0 ? sprintf("%.0f", req[k] / cpu[k]) : "-"
          load = sprintf("%.2f", cpu[k] / (n[k] * dur))
          printf "| %s | %s | %.0f | %s | %s | %s | %s |\n", c, t, med[t], ratio, per, load, wtxt[k]
        }
      }
    }' "$OUT/raw.tsv"
  echo
  echo "hot-ka: wrk -t1 -c64 keep-alive, one 1 KiB object (all hits). new-conn: wrk -t1 -c16 with"
  echo "Connection: close, a full TLS handshake (TLS 1.3, ECDHE, ECDSA P-256) per request."
  echo "req per CPU-s: requests / CPU seconds of the target's processes. vs best peer: the target's"
  echo "median over the best other target's (for webcache: the best of nginx and ATS)."
  echo
  echo "Versions: $(nginx -v 2>&1 | tr -d '\n'), $(traffic_server --version 2>&1 | head -1 | cut -c1-60),"
  echo "$(wrk --version 2>&1 | head -1 | cut -c1-40), $(openssl version)."
} > "$OUT/summary.md"
cat "$OUT/summary.md"
