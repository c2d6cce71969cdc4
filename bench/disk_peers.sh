#!/usr/bin/env bash
# Hits served from disk: webcache-disk and webcache-rock (a rock directory for small objects and a
# ufs one for the rest; memory tier off, so every hit reads the disk store) beside
# squid-disk (`cache_dir ufs`, no memory cache) and nginx-disk (proxy_cache on disk), in the
# repository's peer harness (bench/peers/run.sh; see its -h). webcache (the same binary from its
# memory tier) runs the hit scenarios as a reference, not as a peer.
#
#   bench/disk_peers.sh                      # spread + big (hits) and miss, 1 round x 5 s
#   DURATION=10s ROUNDS=3 bench/disk_peers.sh
#   DROP_CACHES=1 bench/disk_peers.sh        # cold page cache before every measurement (root)
#
# The stores live under bench/results/disk-stores/ (git-ignored; on the file system, not tmpfs).
# Without DROP_CACHES the page cache holds the files after the warm-up for all three alike: that
# compares the disk-store code paths, not the device.
set -Eeuo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export DURATION=${DURATION:-5s} ROUNDS=${ROUNDS:-1} WARMUP=${WARMUP:-1s} WARM_PASSES=${WARM_PASSES:-2}
export SCENARIOS=${SCENARIOS:-"spread big miss"}
export PEERS=${PEERS:-"squid-disk nginx-disk"}
exec bash "$HERE/peers/run.sh" webcache-rock webcache-disk squid-disk nginx-disk webcache -b webcache "$@"
