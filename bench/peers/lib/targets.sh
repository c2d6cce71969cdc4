# Built-in targets of run.sh (sourced). Each start_<name> PORT renders its config into
# $RUN_DIR and starts the server in the foreground in its own session via start_bg.
# The -disk targets keep their stores under $DISK_DIR (a real file system, not tmpfs).

declare -A BUILTIN_PORT=(
  [squid]=27101 [varnish]=27102 [nginx-cache]=27103 [ats]=27104
  [deno-naive]=27105 [deno-naive-2p]=27106
  [webcache]=27110 [webcache-disk]=27111 [squid-disk]=27112 [nginx-disk]=27113 [webcache-rock]=27114
  [webcache-before]=27115 [webcache-before-disk]=27116 [webcache-before-rock]=27117
  [nginx-static]=27090 [deno-static]=27091 [deno-static-2p]=27092
)
# webcache's admin listeners (one per webcache target)
declare -A WEBCACHE_ADMIN_PORT=([webcache]=27120 [webcache-disk]=27121 [webcache-rock]=27122
  [webcache-before]=27123 [webcache-before-disk]=27124 [webcache-before-rock]=27125)
BUILTIN_BOUNDS=" nginx-static deno-static deno-static-2p "
DENO_RUN=("${DENO:-deno}" run --quiet --no-prompt --allow-net=127.0.0.1 --allow-env=ORIGIN_URL)
export DENO_NO_UPDATE_CHECK=1 ORIGIN_URL

start_origin_like() { # NAME PORT  -- the origin nginx config, also used for nginx-static
  local name=$1 port=$2
  mkdir -p "$RUN_DIR/$name-tmp"
  render "$BENCH_DIR/conf/origin.nginx.conf" "$RUN_DIR/$name.conf" "$name" "$port"
  start_bg "$name" nginx -c "$RUN_DIR/$name.conf" -e "$RUN_DIR/$name.error.log"
}

start_origin() { start_origin_like origin "$ORIGIN_PORT"; }
start_nginx-static() { start_origin_like nginx-static "$1"; }

start_nginx-cache() {
  local port=$1
  rm -rf "$RUN_DIR/nginx-cache-store"
  mkdir -p "$RUN_DIR/nginx-cache-tmp"
  render "$BENCH_DIR/conf/nginx-cache.conf" "$RUN_DIR/nginx-cache.conf" nginx-cache "$port"
  start_bg nginx-cache nginx -c "$RUN_DIR/nginx-cache.conf" -e "$RUN_DIR/nginx-cache.error.log"
}

start_squid() {
  local port=$1 dir=$RUN_DIR/squid
  rm -rf "$dir"; mkdir -p "$dir" /var/run/squid
  chown proxy:proxy "$dir" /var/run/squid
  # service name "cachebench": its shm segments and IPC sockets don't clash with other squids
  sed -e "s|@RUN@|${dir}|g" -e "s|@NAME@|squid|g" -e "s|@PORT@|${port}|g" \
      -e "s|@WORKERS@|${WORKERS}|g" -e "s|@ORIGIN_PORT@|${ORIGIN_PORT}|g" \
      "$BENCH_DIR/conf/squid.conf" > "$dir/squid.conf"
  start_bg squid squid --foreground -n cachebench -f "$dir/squid.conf"
}

start_varnish() {
  local port=$1
  rm -rf "$RUN_DIR/varnish-work"
  render "$BENCH_DIR/conf/varnish.vcl" "$RUN_DIR/varnish.vcl" varnish "$port"
  # thread_pools=2 is the default (one pool per core); Varnish runs one thread per connection.
  start_bg varnish varnishd -F -j none -n "$RUN_DIR/varnish-work" -a "127.0.0.1:$port" \
    -T 127.0.0.1:0 -f "$RUN_DIR/varnish.vcl" -s malloc,1G -p "thread_pools=$WORKERS"
}

start_ats() {
  local port=$1 dir=$RUN_DIR/ats f
  rm -rf "$dir" "$RUN_DIR/ats-cache.db"
  mkdir -p "$dir"/{etc,var,run,log,cache}
  render "$BENCH_DIR/conf/ats/runroot.yaml" "$dir/runroot.yaml" ats "$port"
  for f in records.config remap.config storage.config; do
    render "$BENCH_DIR/conf/ats/$f" "$dir/etc/$f" ats "$port"
  done
  cp "$BENCH_DIR/conf/ats/ip_allow.yaml" "$dir/etc/"
  for f in plugin.config cache.config hosting.config parent.config volume.config \
           splitdns.config socks.config ssl_multicert.config; do : > "$dir/etc/$f"; done
  echo 'sni: []' > "$dir/etc/sni.yaml"
  echo 'logging: {}' > "$dir/etc/logging.yaml"
  truncate -s 2G "$RUN_DIR/ats-cache.db"          # the "disk" cache: a sparse file on tmpfs
  chown -R trafficserver:trafficserver "$dir"/{var,run,log,cache} "$RUN_DIR/ats-cache.db"
  start_bg ats env TS_RUNROOT="$dir/runroot.yaml" traffic_server
}

start_deno-naive() {
  start_bg deno-naive "${DENO_RUN[@]}" "$BENCH_DIR/deno/naive_cache.ts" "$1"
}

start_deno-static() {
  start_bg deno-static "${DENO_RUN[@]}" "$BENCH_DIR/deno/static.ts" "$1"
}

# N processes sharing the port with SO_REUSEPORT (needs --unstable-net in Deno 2.9)
start_deno_multi() { # NAME SCRIPT PORT
  local name=$1 script=$2 port=$3 i cmd=""
  for ((i = 0; i < WORKERS; i++)); do
    cmd+="$(printf '%q ' "${DENO_RUN[@]}" --unstable-net "$script" "$port" --reuse-port) & "
  done
  start_bg "$name" bash -c "${cmd} wait"
}
start_deno-naive-2p() { start_deno_multi deno-naive-2p "$BENCH_DIR/deno/naive_cache.ts" "$1"; }
start_deno-static-2p() { start_deno_multi deno-static-2p "$BENCH_DIR/deno/static.ts" "$1"; }

# ---------------------------------------------------------------- disk stores
# squid-disk: `cache_dir ufs` per worker, no memory cache (every hit reads its swap file)
start_squid-disk() {
  local port=$1 dir=$RUN_DIR/squid-disk store=$DISK_DIR/squid
  rm -rf "$dir" "$store"; mkdir -p "$dir" "$store" /var/run/squid
  # RUN is squid's own directory (owned by proxy), as for start_squid
  sed -e "s|@RUN@|${dir}|g" -e "s|@NAME@|squid-disk|g" -e "s|@PORT@|${port}|g" -e "s|@STORE@|${store}|g" \
      -e "s|@WORKERS@|${WORKERS}|g" -e "s|@ORIGIN_PORT@|${ORIGIN_PORT}|g" \
      "$BENCH_DIR/conf/squid-disk.conf" > "$dir/squid.conf"
  chown -R proxy:proxy "$dir" "$store" /var/run/squid
  squid -z --foreground -n cachebenchdisk -f "$dir/squid.conf" > "$dir/z.log" 2>&1 ||
    die "squid-disk: squid -z failed (see $dir/z.log)"
  start_bg squid-disk squid --foreground -n cachebenchdisk -f "$dir/squid.conf"
}

# nginx-disk: nginx-cache's config with the proxy_cache directory on the disk
start_nginx-disk() {
  local port=$1
  rm -rf "$DISK_DIR/nginx"
  mkdir -p "$RUN_DIR/nginx-disk-tmp" "$DISK_DIR/nginx"
  render "$BENCH_DIR/conf/nginx-cache.conf" "$RUN_DIR/nginx-disk.conf" nginx-disk "$port" "$DISK_DIR/nginx"
  start_bg nginx-disk nginx -c "$RUN_DIR/nginx-disk.conf" -e "$RUN_DIR/nginx-disk.error.log"
}

# ---------------------------------------------------------------- webcache (this repository)
# webcache's cache role from dist/webcache.js (run.sh builds it), WEBCACHE_WORKERS workers
# (default WORKERS). webcache: memory tier only. webcache-disk: one disk directory under
# DISK_DIR and the memory tier off (cache.memory.maxObjectBytes 0), so every hit reads the disk store.
WEBCACHE_JS=${WEBCACHE_JS:-$BENCH_DIR/../../dist/webcache.js}
# The webcache-before* targets run the bundle of another revision (BEFORE_REV, built by run.sh into
# $RUN_DIR/webcache-before.js, or BEFORE_JS) with the same configuration as their namesakes, so one
# run shows the table before and after a change.
WEBCACHE_BEFORE_JS=${BEFORE_JS:-}
start_webcache_like() { # NAME PORT CONFIG [extra args...]
  local name=$1 port=$2 conf=$3 js=$WEBCACHE_JS
  shift 3
  [[ $name == webcache-before* ]] && js=$WEBCACHE_BEFORE_JS
  [[ -n $js && -f $js ]] || die "$name: no bundle (the webcache-before targets need BEFORE_REV or BEFORE_JS)"
  start_bg "$name" "${DENO:-deno}" run -A --unstable-kv --unstable-net --v8-flags=--no-memory-reducer,--max-semi-space-size=16 \
    "$js" cache --config "$conf" --origin "$ORIGIN_URL" --listen "127.0.0.1:$port" \
    --workers "${WEBCACHE_WORKERS:-$WORKERS}" --access-log none --log-level warn "$@"
}

# webcache_memory NAME PORT: the memory tier only
webcache_memory() {
  local conf=$RUN_DIR/$1.yaml
  printf 'admin:\n  listen: 127.0.0.1:%s\n' "${WEBCACHE_ADMIN_PORT[$1]}" > "$conf"
  start_webcache_like "$1" "$2" "$conf"
}

# webcache_disk NAME PORT: one ufs directory under DISK_DIR and the memory tier off
# (cache.memory.maxObjectBytes 0), so every hit reads the disk store
webcache_disk() {
  local conf=$RUN_DIR/$1.yaml store=$DISK_DIR/$1
  rm -rf "$store"
  mkdir -p "$store"
  printf 'admin:\n  listen: 127.0.0.1:%s\ncache:\n  memory:\n    maxBytes: 1MiB\n    maxObjectBytes: 0\n' \
    "${WEBCACHE_ADMIN_PORT[$1]}" > "$conf"
  start_webcache_like "$1" "$2" "$conf" --cache-dir "$store/d1" --cache-size 2GiB
}

# webcache_rock NAME PORT: as webcache_disk, with Squid's usual pair of directories: a rock directory
# (16 KiB slots) for small objects and a ufs directory for larger ones (the big scenario's 100 KiB)
webcache_rock() {
  local conf=$RUN_DIR/$1.yaml store=$DISK_DIR/$1
  rm -rf "$store"
  mkdir -p "$store"
  cat > "$conf" << EOF
admin:
  listen: 127.0.0.1:${WEBCACHE_ADMIN_PORT[$1]}
cache:
  memory:
    maxBytes: 1MiB
    maxObjectBytes: 0
  store:
    dirs:
      - { type: rock, path: $store/rock, size: 2GiB, slotBytes: 16KiB, ways: 8 }
      - { type: ufs, path: $store/ufs, size: 2GiB }
EOF
  start_webcache_like "$1" "$2" "$conf"
}

start_webcache() { webcache_memory webcache "$1"; }
start_webcache-disk() { webcache_disk webcache-disk "$1"; }
start_webcache-rock() { webcache_rock webcache-rock "$1"; }
start_webcache-before() { webcache_memory webcache-before "$1"; }
start_webcache-before-disk() { webcache_disk webcache-before-disk "$1"; }
start_webcache-before-rock() { webcache_rock webcache-before-rock "$1"; }

