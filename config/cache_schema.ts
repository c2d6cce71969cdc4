/**
 * `cache:` — the HTTP caching proxy: listeners and modes, origins, access control, stores,
 * peering and the real-server side of DR/TUN.
 *
 * @module
 */
import { z } from "zod";
import { cidr, count, host, hostPort, httpUrl, ipv4, port, size } from "./_types.ts";

/** Largest timer delay Deno accepts (2^31 - 1 ms, about 24.8 days); longer ones fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Eviction policies shared by the memory and disk tiers. */
export const POLICIES = ["sieve", "lru", "gdsf", "lfuda"] as const;

/** Schema of one HTTP listener. */
export const ListenerSchema = z.strictObject({
  address: hostPort().describe("ADDR:PORT to accept HTTP on."),
  mode: z.enum(["accel", "forward", "transparent"]).default("accel").describe(
    "accel: reverse proxy to cache.origins; forward: absolute-form and CONNECT (cache.acl.forward); " +
      "transparent: origin-form redirected by a firewall, origin from Host.",
  ),
  proxyProtocol: z.boolean().default(false).describe(
    "Expect a PROXY protocol v1/v2 header (from a proxy-method director) carrying the real client address.",
  ),
});

/** Schema of one cache directory (Squid's cache_dir ufs DIR MB L1 L2). */
export const CacheDirSchema = z.strictObject({
  path: z.string().min(1).describe("Directory holding the objects and the Deno KV index."),
  size: size().describe("Size limit, e.g. 10GiB."),
  l1: count(1).max(256).default(16).describe("First-level subdirectories (Squid 16)."),
  l2: count(1).max(256).default(256).describe("Second-level subdirectories per first level (Squid 256)."),
});

/** Schema of one peer cache (Squid's cache_peer). */
export const PeerSchema = z.strictObject({
  host: host().describe("Peer address."),
  httpPort: port().describe("Peer HTTP port."),
  icpPort: z.number().int().min(0).max(65535).default(3130).describe("Peer ICP port; 0 disables ICP to it."),
  type: z.enum(["sibling", "parent"]).default("sibling").describe(
    "sibling: only asked for hits; parent: may fetch misses for us.",
  ),
  multicastResponder: z.boolean().default(false).describe(
    "The peer is a member of icp.multicast.group: queried through the group, its unicast replies accepted " +
      "(Squid's multicast-responder). Reload: yes.",
  ),
});

/** Schema of the `cache` section. */
export const CacheSchema = z.strictObject({
  listen: z.array(ListenerSchema).default([{ address: "0.0.0.0:3128", mode: "accel", proxyProtocol: false }]).describe(
    "HTTP listeners. Default one accelerator on port 3128 (Squid's http_port).",
  ),
  workers: count(0).max(64).default(0).describe(
    "Processes serving HTTP on the same ports (SO_REUSEPORT); 0 means one per CPU core.",
  ),
  origins: z.record(z.string(), httpUrl()).default({}).describe(
    "Accelerator sites: Host header -> origin URL (http://HOST:PORT).",
  ),
  defaultOrigin: httpUrl().optional().describe("Origin for accelerated hosts not in cache.origins (--origin)."),
  acl: z.strictObject({
    forward: z.array(cidr()).default(["127.0.0.0/8", "::1/128"]).describe(
      "Client networks allowed to use forward and transparent proxying. Default loopback only: never an open proxy.",
    ),
    purge: z.array(cidr()).default(["127.0.0.0/8", "::1/128"]).describe("Client networks allowed to send PURGE."),
    connectPorts: z.array(port()).default([443]).describe(
      "Ports forward-proxy clients may CONNECT to (Squid's SSL_ports); others get 403. Reload: yes.",
    ),
  }).prefault({}),
  client: z.strictObject({
    idleTimeoutMs: count(1).default(60000).describe(
      "Close a client connection idle this long between requests (ms). Lower frees sockets sooner.",
    ),
    headerTimeoutMs: count(1).default(10000).describe(
      "Time a client has to send a complete request head once it started (ms); slow-loris guard.",
    ),
    sendTimeoutMs: count(1).default(60000).describe(
      "Close a client connection when a response write makes no progress this long (ms).",
    ),
    bodyIdleTimeoutMs: count(1).max(MAX_TIMER_MS).default(30000).describe(
      "Longest wait for the next bytes of a request body (ms), 1 to 2147483647 (Deno's timer limit). " +
        "A body stalled longer is answered 408 and its origin connection closed; lower frees stalled " +
        "uploads sooner, higher tolerates slower clients. Reload: restart.",
    ),
    bodyTimeoutMs: count(1).max(MAX_TIMER_MS).default(300000).describe(
      "Longest time to receive a whole request body (ms), 1 to 2147483647. A slower upload is " +
        "answered 408 and its origin connection closed; bounds how long a trickling client holds an " +
        "origin connection. Reload: restart.",
    ),
  }).prefault({}),
  maxObjectBytes: size().default(64 * 1024 * 1024).describe(
    "Responses larger than this are passed through, not stored (Squid maximum_object_size).",
  ),
  memory: z.strictObject({
    maxBytes: size().default(256 * 1024 * 1024).describe(
      "Memory tier size of the whole cache, all workers together (like Varnish -s malloc; Squid's " +
        "cache_mem is per worker unless memory_cache_shared). Each worker's memory tier gets " +
        "maxBytes / cache.workers. A worker keeps what it fetched and copies an object from another worker " +
        "only when it gets a request for it, so popular objects are held by every worker and the rest once.",
    ),
    maxObjectBytes: size().default(1024 * 1024).describe("Largest object kept in memory when a disk tier exists."),
  }).prefault({}),
  store: z.strictObject({
    policy: z.enum(POLICIES).default("sieve").describe("Eviction policy: sieve (default), lru, gdsf, lfuda."),
    lowWatermark: z.number().min(0.1).max(1).default(0.9).describe(
      "Evict down to this fraction of a directory's size.",
    ),
    highWatermark: z.number().min(0.1).max(1).default(0.95).describe("Start evicting above this fraction."),
    dirs: z.array(CacheDirSchema).default([]).describe("Disk cache directories; none means memory only."),
  }).prefault({}),
  heuristicPercent: count(0).max(100).default(10).describe(
    "Heuristic freshness as a percentage of (Date - Last-Modified) (RFC 9111 4.2.2).",
  ),
  heuristicMaxS: count(0).default(86400).describe("Upper bound of heuristic freshness, seconds."),
  collapse: z.strictObject({
    enabled: z.boolean().default(true).describe("Collapse concurrent misses for one URL into one origin request."),
    waitMs: count(0).default(10000).describe("How long collapsed requests wait for the leader before going alone."),
  }).prefault({}),
  origin: z.strictObject({
    connectTimeoutMs: count(1).default(5000).describe("Origin connect timeout."),
    readTimeoutMs: count(1).max(MAX_TIMER_MS).default(30000).describe(
      "Origin response header timeout, and the longest wait for the next bytes of a response body (ms).",
    ),
    maxIdlePerHost: count(0).default(64).describe("Idle keep-alive connections kept per origin."),
  }).prefault({}),
  maxHeaderBytes: size().default(64 * 1024).describe("Largest request header section; above it, 431."),
  accessLog: z.string().default("none").describe("Squid native access.log: a file path, stdout, or none."),
  proxyProtocol: z.boolean().default(false).describe("Accept PROXY protocol headers on every listener."),
  vip: ipv4().optional().describe("VIP served through a DR/TUN director (set up on lo by the cache)."),
  forwarding: z.enum(["none", "dr", "tun"]).default("none").describe(
    "Real-server set-up for the director: dr (VIP on lo, arp_ignore/announce), tun (plus IP-in-IP decapsulation).",
  ),
  interface: z.string().optional().describe(
    "Interface whose MAC address this cache advertises in its membership record, so directors forward " +
      "DR frames to it without waiting for ARP. Default: with forwarding dr|tun, the interface holding the " +
      "advertised HTTP address (none on loopback; directors then use ARP). Reload: restart.",
  ),
  service: z.string().optional().describe("Director service name this cache serves (advertised in membership)."),
  weight: count(0).max(65535).default(1).describe("Weight advertised to directors."),
  peers: z.array(PeerSchema).default([]).describe("Configured peer caches (besides --peers auto)."),
  peering: z.strictObject({
    mode: z.enum(["none", "icp", "hash", "hash+icp"]).default("icp").describe(
      "icp: ask siblings on a miss; hash: each URL has one owner cache; hash+icp: ask ICP when the owner is unsure.",
    ),
    self: hostPort().optional().describe(
      "This cache's HOST:HTTP_PORT as its peers know it (its id in the hash). Default: the entry of cache.peers " +
        "that is one of this cache's listeners, else the first listener. Reload: no.",
    ),
    warmupMs: count(0).default(30000).describe(
      "hash+icp: a cache that joined less than this long ago is unsure of its share and asks ICP first; " +
        "longer means fewer origin fetches after a join, more ICP traffic. Reload: yes.",
    ),
  }).prefault({}),
}).superRefine((c, ctx) => {
  if (c.store.lowWatermark > c.store.highWatermark) {
    ctx.addIssue({
      code: "custom",
      path: ["store", "lowWatermark"],
      message: `${c.store.lowWatermark} is above highWatermark ${c.store.highWatermark}`,
    });
  }
}).prefault({});
