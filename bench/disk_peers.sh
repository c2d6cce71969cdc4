#!/usr/bin/env bash
# Hits served from disk: webcache (memory tier disabled, so every hit reads its object file)
# beside Squid with `cache_dir ufs` (no memory cache) and nginx proxy_cache on disk, measured
# side by side by the shared harness (/work/shared/bench/run.sh, or $HARNESS). webcache-mem (the
# same binary from its memory tier) runs the hit scenarios as a reference, not as a peer.
#
#   bench/disk_peers.sh                      # spread + big (hits) and miss, 1 round x 5 s
#   DURATION=10s ROUNDS=3 bench/disk_peers.sh
#
# The stores live under bench/results/disk-peers/ (git-ignored; on the root file system, not
# tmpfs), so hits go through each server's file-system path. The page cache still holds the
# files after the warm-up for all three alike: this compares the disk-store code paths, not the
# device. Ports 274xx and RUN_DIR /dev/shm/cachebench-disk keep it apart from other runs.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HARNESS=${HARNESS:-/work/shared/bench/run.sh}
WORK=$ROOT/bench/results/disk-peers
export OUT_DIR=${OUT_DIR:-$ROOT/bench/results}
export RUN_DIR=${RUN_DIR:-/dev/shm/cachebench-disk}
export ORIGIN_PORT=${ORIGIN_PORT:-27480}
export DURATION=${DURATION:-5s} ROUNDS=${ROUNDS:-1} WARMUP=${WARMUP:-1s} WARM_PASSES=${WARM_PASSES:-2}
export SCENARIOS=${SCENARIOS:-"spread big miss"}
export PEERS=${PEERS:-"squid-disk nginx-disk"}
WORKERS=${WORKERS:-2}
P_WEBCACHE=27481 P_SQUID=27482 P_NGINX=27483 P_ADMIN=27484 P_MEM=27485 P_MEM_ADMIN=27486

rm -rf "$WORK"
mkdir -p "$WORK/squid" "$WORK/nginx-tmp" "$WORK/webcache"
chown -R proxy:proxy "$WORK/squid"

# --- Squid: ufs cache_dir per worker, no memory cache --------------------------------------
cat > "$WORK/squid/squid.conf" <<CONF
workers $WORKERS
http_port 127.0.0.1:$P_SQUID accel defaultsite=127.0.0.1 no-vhost
cache_peer 127.0.0.1 parent $ORIGIN_PORT 0 no-query no-digest originserver name=origin
cache_peer_access origin allow all
never_direct allow all
http_access allow all
# ufs is not SMP-aware: one directory per worker (as Squid's docs advise for aufs/ufs + SMP).
cache_dir ufs $WORK/squid/cache\${process_number} 2048 16 256
cache_mem 0 MB
maximum_object_size_in_memory 0 KB
memory_cache_mode disk
maximum_object_size 1 MB
refresh_pattern . 0 20% 4320
access_log none
cache_store_log none
logfile_rotate 0
cache_log $WORK/squid/cache.log
pid_filename $WORK/squid/squid.pid
coredump_dir $WORK/squid
cache_effective_user proxy
visible_hostname cachebench-disk
max_filedescriptors 65536
shutdown_lifetime 1 seconds
pinger_enable off
CONF
chown -R proxy:proxy "$WORK/squid"
squid -z --foreground -n cachebenchdisk -f "$WORK/squid/squid.conf" >"$WORK/squid/z.log" 2>&1 || {
  cat "$WORK/squid/z.log"
  exit 1
}

# --- nginx: proxy_cache on disk, same settings as the harness's nginx-cache otherwise -------
sed -e "s|@RUN@/@NAME@-store|$WORK/nginx-store|" -e "s|@RUN@/@NAME@-tmp|$WORK/nginx-tmp|g" \
  -e "s|@RUN@|$WORK|g" -e "s|@NAME@|nginx-disk|g" -e "s|@PORT@|$P_NGINX|g" \
  -e "s|@WORKERS@|$WORKERS|g" -e "s|@ORIGIN_PORT@|$ORIGIN_PORT|g" \
  "$(dirname "$HARNESS")/conf/nginx-cache.conf" > "$WORK/nginx.conf"

# --- webcache: disk directory, memory tier off (maxObjectBytes 0: nothing kept in memory) ----
cat > "$WORK/webcache/appliance.yaml" <<CONF
admin:
  listen: 127.0.0.1:$P_ADMIN
cache:
  memory:
    maxBytes: 1MiB
    maxObjectBytes: 0
CONF
# Reference (not a peer): the same webcache from its memory tier, to separate the HTTP stack's
# cost from the disk store's.
cat > "$WORK/webcache/memory.yaml" <<CONF
admin:
  listen: 127.0.0.1:$P_MEM_ADMIN
CONF
[ -f "$ROOT/dist/webcache.js" ] || (cd "$ROOT" && deno task build)

exec "$HARNESS" \
  webcache-disk=http://127.0.0.1:$P_WEBCACHE \
  squid-disk=http://127.0.0.1:$P_SQUID \
  nginx-disk=http://127.0.0.1:$P_NGINX \
  webcache-mem=http://127.0.0.1:$P_MEM -b webcache-mem \
  -c "webcache-disk=exec deno run -A --unstable-kv --unstable-net $ROOT/dist/webcache.js cache \
      --config $WORK/webcache/appliance.yaml --cache-dir $WORK/webcache/d1 --cache-size 2GiB \
      --origin \$ORIGIN_URL --listen 127.0.0.1:\$TARGET_PORT --workers $WORKERS --log-level warn" \
  -c "webcache-mem=exec deno run -A --unstable-kv --unstable-net $ROOT/dist/webcache.js cache \
      --config $WORK/webcache/memory.yaml --origin \$ORIGIN_URL --listen 127.0.0.1:\$TARGET_PORT \
      --workers $WORKERS --log-level warn" \
  -c "squid-disk=exec squid --foreground -n cachebenchdisk -f $WORK/squid/squid.conf" \
  -c "nginx-disk=exec nginx -c $WORK/nginx.conf -e $WORK/nginx-disk.error.log"
