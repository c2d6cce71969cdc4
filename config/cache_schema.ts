/**
 * `cache:` — the HTTP caching proxy: listeners and modes, origins, access control, stores,
 * peering and the real-server side of DR/TUN.
 *
 * @module
 */
import { z } from "zod";
import { cidr, count, durationMs, host, hostPort, ipv4, originUrl, port, size } from "./_types.ts";

/** Eviction policies shared by the memory and disk tiers. */
export const POLICIES = ["sieve", "lru", "gdsf", "lfuda"] as const;

/**
 * Request fields by which a client claims what a proxy in front of it saw or rewrote: the host,
 * scheme, port, URL, method or client address. An origin that believes them can answer
 * differently for the same URL, so the cache drops them from client requests unless
 * `cache.trustForwardedHeaders` keeps them.
 */
export const FORWARDING_HEADERS = [
  "forwarded",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-forwarded-port",
  "x-forwarded-scheme",
  "x-forwarded-ssl",
  "x-forwarded-server",
  "x-forwarded-prefix",
  "x-forwarded-uri",
  "x-original-url",
  "x-original-uri",
  "x-original-host",
  "x-rewrite-url",
  "x-host",
  "x-http-host-override",
  "x-http-method-override",
  "x-http-method",
  "x-method-override",
  "x-real-ip",
  "x-client-ip",
  "true-client-ip",
  "x-cluster-client-ip",
  "front-end-https",
  "x-url-scheme",
] as const;

/** Schema of one HTTP listener. */
export const ListenerSchema = z.strictObject({
  address: hostPort().describe("ADDR:PORT to accept HTTP on."),
  mode: z.enum(["accel", "forward", "transparent"]).default("accel").describe(
    "accel: reverse proxy to cache.origins; forward: absolute-form and CONNECT (cache.acl.forward); " +
      "transparent: origin-form redirected by a firewall, origin from Host.",
  ),
  proxyProtocol: z.boolean().default(false).describe(
    "Expect a PROXY protocol v1/v2 header (from a proxy-method director) carrying the real client address; " +
      "only from senders in cache.acl.proxyProtocol, other connections are closed. Not with tls: Deno has no " +
      "server-side startTls, so a PROXY header before the TLS handshake cannot be read.",
  ),
  tls: z.strictObject({
    cert: z.string().min(1).describe("PEM certificate chain file (leaf first)."),
    key: z.string().min(1).describe(
      "PEM private key file (unencrypted PKCS#8, RSA or EC). Refused when its group or others may read it " +
        "(chmod 600). Never logged.",
    ),
  }).optional().describe(
    "Terminate TLS (1.2 and 1.3, ALPN http/1.1) on this listener: requests over it have the https scheme " +
      "and are handled as on a plain listener of the same mode. One certificate per listener (Deno 2.9.6 " +
      "selects no certificate by SNI): for several sites, one listener per address or a certificate naming them " +
      "all. The files are read again on SIGHUP; established connections keep going, and unusable files keep " +
      "the old certificate with a warning naming the file. Reload: yes (files), restart (the entry).",
  ),
}).superRefine((l, ctx) => {
  if (l.tls && l.proxyProtocol) {
    ctx.addIssue({
      code: "custom",
      path: ["proxyProtocol"],
      message: "PROXY protocol before TLS is not supported (Deno has no server-side startTls); use a plain listener",
    });
  }
});

/** Schema of one cache directory (Squid's cache_dir ufs DIR MB L1 L2). */
export const CacheDirSchema = z.strictObject({
  type: z.enum(["ufs", "rock"]).default("ufs").describe(
    "ufs: one file per object under L1/L2 subdirectories, indexed in Deno KV (Squid's cache_dir ufs). rock: " +
      "small objects packed into the fixed-size slots of one preallocated file (Squid's cache_dir rock, " +
      "Traffic Server's cyclic store): storing costs no inode create and a hit no open/close, but only " +
      "objects whose record (headers + body) fits slotBytes go there; larger ones go to the ufs directory " +
      "when one is configured, else are not stored on disk. Rock evicts per set, oldest stored first. " +
      "Reload: no (restart).",
  ),
  path: z.string().min(1).describe("Directory holding the objects and the Deno KV index (ufs) or rock.slots (rock)."),
  size: size().describe("Size limit, e.g. 10GiB (rock: the size of its slot file, created sparse)."),
  l1: count(1).max(256).default(16).describe("First-level subdirectories (Squid 16; ufs only)."),
  l2: count(1).max(256).default(256).describe("Second-level subdirectories per first level (Squid 256; ufs only)."),
  slotBytes: size(1024 * 1024).default(16 * 1024).describe(
    "Rock only: bytes per slot, 1KiB to 1MiB (Squid's slot-size, 16KiB). The largest object rock stores is a " +
      "slot minus its stored headers (a few hundred bytes). Larger slots take bigger objects but waste more " +
      "space per small object (each object takes a whole slot). Changing it empties the rock file. " +
      "Reload: no (restart).",
  ),
  ways: count(1).max(64).default(8).describe(
    "Rock only: slots per set; an object may go to any slot of the set its URL hashes to. More ways keep " +
      "more of the popular objects when sets fill unevenly, and cost a longer table read per lookup (64 " +
      "bytes per way). Changing it empties the rock file. Reload: no (restart).",
  ),
}).superRefine((d, ctx) => {
  if (d.type !== "rock") return;
  if (d.slotBytes < 1024) {
    ctx.addIssue({ code: "custom", path: ["slotBytes"], message: `${d.slotBytes} is below the minimum 1KiB` });
  } else if (d.size < 8192 + d.ways * (64 + d.slotBytes)) {
    ctx.addIssue({
      code: "custom",
      path: ["size"],
      message: `${d.size} bytes hold less than one set of ${d.ways} slots of ${d.slotBytes} bytes`,
    });
  }
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

/** Schema of one `cache.refreshPatterns` rule (Squid's refresh_pattern, times in seconds). */
export const RefreshPatternSchema = z.strictObject({
  regex: z.string().min(1).superRefine((v, ctx) => {
    try {
      new RegExp(v);
    } catch (e) {
      ctx.addIssue({
        code: "custom",
        message: `${JSON.stringify(v)} is not a regular expression: ${(e as Error).message}`,
      });
    }
  }).describe("ECMAScript regular expression matched anywhere in the normalised URL (http://host/path?query)."),
  minS: count(0).default(0).describe(
    "Heuristic freshness floor, seconds (Squid's MIN, minutes there): a response without explicit freshness " +
      "is fresh at least this long, even without Last-Modified. Default 0.",
  ),
  percent: count(0).max(10000).default(10).describe(
    "Heuristic freshness as a percentage of (Date - Last-Modified) (Squid's PERCENT). Default 10.",
  ),
  maxS: count(0).default(86400).describe(
    "Heuristic freshness cap, seconds (Squid's MAX, minutes there). Default 86400.",
  ),
  ignoreCase: z.boolean().default(false).describe("Match case-insensitively (Squid's -i)."),
}).superRefine((p, ctx) => {
  if (p.minS > p.maxS) {
    ctx.addIssue({ code: "custom", path: ["minS"], message: `${p.minS} is above maxS ${p.maxS}` });
  }
});

/** Schema of the `cache` section. */
export const CacheSchema = z.strictObject({
  listen: z.array(ListenerSchema).default([{ address: "0.0.0.0:3128", mode: "accel", proxyProtocol: false }]).describe(
    "HTTP listeners. Default one accelerator on port 3128 (Squid's http_port). Reload: no (restart).",
  ),
  workers: count(0).max(64).default(0).describe(
    "Processes serving HTTP on the same ports (SO_REUSEPORT); 0 means one per CPU core. Reload: no (restart).",
  ),
  origins: z.record(z.string(), originUrl()).default({}).describe(
    "Accelerator sites: Host header -> origin URL (http://HOST:PORT, or https://HOST:PORT fetched over TLS with " +
      "the certificate verified against HOST, see cache.originTls). Reload: yes (SIGHUP).",
  ),
  defaultOrigin: originUrl().optional().describe(
    "Origin for accelerated hosts not in cache.origins (--origin). Reload: yes.",
  ),
  schemeInKey: z.boolean().default(true).describe(
    "Whether https://site/x and http://site/x are different cache entries (a request over a TLS listener, or " +
      "an https:// forward URL, has the https scheme). false keys both as http://, so a site served over both " +
      "shares one copy; only when both schemes serve the same content. Reload: restart.",
  ),
  originTls: z.strictObject({
    caFile: z.string().min(1).optional().describe(
      "PEM file of CA certificates trusted for https:// origins and forward requests, besides the default " +
        "root store. Reload: restart.",
    ),
    insecure: z.boolean().default(false).describe(
      "Do not verify https:// origin certificates at all (self-signed test origins). Logged as a warning at " +
        "start: anyone on the path can impersonate the origin. Reload: restart.",
    ),
  }).prefault({}).describe("Trust for TLS to origins: SNI is the origin's name, and its certificate must name it."),
  trustForwardedHeaders: z.array(
    z.string().transform((s) => s.toLowerCase()).pipe(z.enum(FORWARDING_HEADERS)),
  ).default([]).describe(
    "Client-supplied forwarding fields to keep (" + FORWARDING_HEADERS.join(", ") + "); all others of that list " +
      "are removed from client requests in every listener mode, and the cache sends its own X-Forwarded-For " +
      "(the client address) and Via. Keep them only behind a proxy you trust. A kept field becomes part of the " +
      "cache key (an implied Vary), except x-forwarded-for, which when kept has the client address appended. " +
      "Reload: restart.",
  ),
  acl: z.strictObject({
    forward: z.array(cidr()).default(["127.0.0.0/8", "::1/128"]).describe(
      "Client networks allowed to use forward and transparent proxying. Default loopback only: never an open proxy. " +
        "Reload: yes.",
    ),
    purge: z.array(cidr()).default(["127.0.0.0/8", "::1/128"]).describe(
      "Client networks allowed to send PURGE. Reload: yes.",
    ),
    proxyProtocol: z.array(cidr()).default(["127.0.0.0/8", "::1/128"]).describe(
      "Senders trusted to send PROXY protocol headers on listeners with proxyProtocol (the directors' " +
        "addresses). A connection from any other address is closed before a byte is read (counted in " +
        "webcache_http_proxy_protocol_refused_total), so a client cannot claim another address and gain " +
        "forward-proxy or PURGE rights. Default loopback only: a director on another host must be listed. " +
        "Reload: no (restart).",
    ),
    connectPorts: z.array(port()).default([443]).describe(
      "Ports forward-proxy clients may CONNECT to (Squid's SSL_ports); others get 403. Reload: yes.",
    ),
    allowDestinations: z.array(cidr()).default([]).describe(
      "Networks forward and transparent requests (and CONNECT) may reach although they are internal. By default " +
        "they get 403 for loopback (127.0.0.0/8, ::1, localhost), link-local (169.254.0.0/16, fe80::/10), " +
        "unspecified (0.0.0.0/8, ::) and this node's own addresses, like Squid's `deny to_localhost`; the address " +
        "actually connected to is checked, so DNS answers cannot rebind past it. This node's admin, gossip and ICP " +
        "ports stay refused on its own addresses even when listed. Accelerated requests to cache.origins are " +
        "never checked. Reload: restart.",
    ),
  }).prefault({}),
  client: z.strictObject({
    idleTimeoutMs: durationMs(1).default(60000).describe(
      "Close a client connection idle this long between requests (ms). Lower frees sockets sooner.",
    ),
    headerTimeoutMs: durationMs(1).default(10000).describe(
      "Time a client has to send a complete request head once it started, and on TLS listeners to complete " +
        "its handshake (ms); slow-loris guard.",
    ),
    sendTimeoutMs: durationMs(1).default(60000).describe(
      "Close a client connection when a response write makes no progress this long (ms).",
    ),
    bodyIdleTimeoutMs: durationMs(1).default(30000).describe(
      "Longest wait for the next bytes of a request body (ms), 1 to 2147483647 (Deno's timer limit). " +
        "A body stalled longer is answered 408 and its origin connection closed; lower frees stalled " +
        "uploads sooner, higher tolerates slower clients. Reload: restart.",
    ),
    bodyTimeoutMs: durationMs(1).default(300000).describe(
      "Longest time to receive a whole request body (ms), 1 to 2147483647. A slower upload is " +
        "answered 408 and its origin connection closed; bounds how long a trickling client holds an " +
        "origin connection. Reload: restart.",
    ),
  }).prefault({}),
  maxObjectBytes: size().default(64 * 1024 * 1024).describe(
    "Responses larger than this are passed through, not stored (Squid maximum_object_size). Reload: yes.",
  ),
  memory: z.strictObject({
    maxBytes: size().default(256 * 1024 * 1024).describe(
      "Memory tier size of the whole cache, all workers together (like Varnish -s malloc; Squid's " +
        "cache_mem is per worker unless memory_cache_shared). Each worker's memory tier gets " +
        "maxBytes / cache.workers. A worker keeps what it fetched and copies an object from another worker " +
        "only when it gets a request for it, so popular objects are held by every worker and the rest once. " +
        "Reload: yes (a lower limit evicts at once).",
    ),
    maxObjectBytes: size().default(1024 * 1024).describe(
      "Largest object kept in memory when a disk tier exists. Reload: yes.",
    ),
  }).prefault({}),
  store: z.strictObject({
    policy: z.enum(POLICIES).default("sieve").describe("Eviction policy: sieve (default), lru, gdsf, lfuda."),
    lowWatermark: z.number().min(0.1).max(1).default(0.9).describe(
      "Evict down to this fraction of a directory's size.",
    ),
    highWatermark: z.number().min(0.1).max(1).default(0.95).describe("Start evicting above this fraction."),
    mapFiles: z.boolean().default(true).describe(
      "Map the object files kept open for hits into memory (mmap, private), so a hit sends the body from the " +
        "page cache without a read (100 KiB disk hits: 25-45 % less CPU). The one risk: a cache file truncated " +
        "in place by something other than webcache while it is being sent kills the process (SIGBUS); webcache " +
        "itself only renames and unlinks. false: read every hit. Needs FFI (Linux, glibc). Reload: no (restart).",
    ),
    dirs: z.array(CacheDirSchema).default([]).describe(
      "Disk cache directories; none means memory only. Reload: no (restart).",
    ),
  }).prefault({}),
  heuristicPercent: count(0).max(100).default(10).describe(
    "Heuristic freshness as a percentage of (Date - Last-Modified) (RFC 9111 4.2.2). Reload: yes.",
  ),
  heuristicMaxS: count(0).max(3_153_600_000).default(86400).describe(
    "Upper bound of heuristic freshness, seconds. Reload: yes.",
  ),
  staleIfErrorS: count(0).default(0).describe(
    "Seconds past its freshness a stored response may still be served when revalidating it fails (origin " +
      "unreachable, timeout, or 500/502/503/504) and neither the request nor the response sets stale-if-error " +
      "(RFC 5861; Squid's max_stale, nginx's proxy_cache_use_stale error). Never for responses with " +
      "must-revalidate, proxy-revalidate, s-maxage or no-cache (RFC 9111 4.2.4): those get the error. 0: only " +
      "stale-if-error allows it. Higher rides out origin outages but serves older content. Reload: yes.",
  ),
  refreshPatterns: z.array(RefreshPatternSchema).default([]).describe(
    "Squid's refresh_pattern: heuristic freshness by URL for responses without explicit freshness " +
      "(no max-age, s-maxage, Expires). The first rule whose regex matches the URL gives minS, percent, maxS; " +
      "lifetime = clamp(percent% x (Date - Last-Modified), minS, maxS), or min(minS, maxS) without " +
      "Last-Modified. No match: heuristicPercent, 0, heuristicMaxS. Explicit freshness is never overridden. " +
      "Reload: yes.",
  ),
  targetedCacheControl: z.array(z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/)).default(["CDN-Cache-Control"])
    .describe(
      "Targeted cache-control fields this cache obeys (RFC 9213), first listed wins: the first one present with " +
        "a valid value replaces Cache-Control and Expires for this cache's storing and freshness. Parsed as a " +
        "structured-field Dictionary; an invalid one is ignored. Passed downstream unchanged. [] obeys " +
        "Cache-Control only. Reload: yes.",
    ),
  partial: z.strictObject({
    maxBytes: size().default(16 * 1024 * 1024).describe(
      "Memory for stored partial responses (206 with one Content-Range of known length, RFC 9111 3.3), " +
        "per worker. Later Range requests inside a stored part are hits; parts with the same strong ETag are " +
        "combined and, once complete, stored as a whole 200 (up to maxObjectBytes). Least recently used parts " +
        "go first. 0 relays 206 responses without storing them. Reload: restart.",
    ),
  }).prefault({}),
  collapse: z.strictObject({
    enabled: z.boolean().default(true).describe(
      "Collapse concurrent misses for one URL into one origin request. Reload: yes.",
    ),
    waitMs: durationMs(0).default(10000).describe(
      "How long collapsed requests wait for the leader before going alone. Reload: yes.",
    ),
  }).prefault({}),
  origin: z.strictObject({
    connectTimeoutMs: durationMs(1).default(5000).describe("Origin connect timeout. Reload: yes."),
    readTimeoutMs: durationMs(1).default(30000).describe(
      "Origin response header timeout, and the longest wait for the next bytes of a response body (ms). " +
        "Reload: yes.",
    ),
    maxIdlePerHost: count(0).default(64).describe("Idle keep-alive connections kept per origin. Reload: yes."),
  }).prefault({}),
  maxHeaderBytes: size(16 * 1024 * 1024).default(64 * 1024).describe(
    "Largest request header section (at most 16MiB); above it, 431.",
  ),
  accessLog: z.string().default("none").describe(
    "Squid native access.log: a file path, stdout, or none. SIGHUP reopens it (logrotate: rename, then HUP). " +
      "Reload: yes.",
  ),
  proxyProtocol: z.boolean().default(false).describe(
    "Expect PROXY protocol headers on every listener (only from senders in cache.acl.proxyProtocol).",
  ),
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
  weight: count(0).max(65535).default(1).describe(
    "Weight advertised to directors (0 while the cache drains on SIGTERM). Reload: yes (gossiped).",
  ),
  shutdownGraceMs: durationMs(0).default(30000).describe(
    "SIGTERM: longest time from the signal to exit (ms). The cache first announces it is draining " +
      "(membership state draining, weight 0; its health endpoint answers 503; every response closes its " +
      "connection), keeps accepting for shutdownDelayMs, then stops accepting and lets requests in flight " +
      "finish until this deadline. Longer lets long downloads finish; shorter restarts faster. Reload: yes.",
  ),
  shutdownDelayMs: durationMs(0).default(3000).describe(
    "SIGTERM: how long the cache keeps accepting after announcing it drains (ms), so directors learn " +
      "it through gossip (about a probe interval) or health checks before it closes its listeners. " +
      "Directors that learn it only from health checks need more than fall × intervalMs. At most " +
      "shutdownGraceMs. Skipped when no director can be sending (no cluster membership, no cache.vip, no " +
      "health probe in the last minute). Reload: yes.",
  ),
  peers: z.array(PeerSchema).default([]).describe(
    "Configured peer caches (besides --peers auto). Reload: yes while peering runs.",
  ),
  purge: z.strictObject({
    banLifetimeS: count(60).default(86400).describe(
      "Seconds a purge ban is kept (s). A retired prefix/regex ban folds into the ban floor: every object " +
        "stored before it counts as purged, so this is also the longest an object stored before a purge lives. " +
        "Higher keeps long-lived objects, at the cost of more bans to test on lookups of old objects. Reload: no.",
    ),
    maxBans: count(1).max(100_000).default(1000).describe(
      "Most prefix and regex bans kept; the oldest beyond it folds into the ban floor (see banLifetimeS). " +
        "Higher: fewer refetches under heavy purging, more bans to test. Reload: no.",
    ),
    maxUrlBans: count(1).max(50_000).default(20_000).describe(
      "Most single-URL bans kept for caches that missed a purge (the objects are deleted at once on every " +
        "cache that acknowledged); the oldest are dropped. Reload: no.",
    ),
    fanoutTimeoutMs: count(50).max(60_000).default(1000).describe(
      "How long a cache waits for each other cache to acknowledge a purge (ms); one that does not converges " +
        "by ban list sync through gossip. Reload: no.",
    ),
  }).prefault({}).describe(
    "Cluster-wide purges (PURGE, webcache purge): sent to every cache over the gossip transport, sealed with " +
      "the cluster key; prefix and regex purges are bans checked on lookup. Who may purge: cache.acl.purge.",
  ),
  peering: z.strictObject({
    mode: z.enum(["none", "icp", "hash", "hash+icp"]).default("icp").describe(
      "icp: ask siblings on a miss; hash: each URL has one owner cache; hash+icp: ask ICP when the owner is unsure.",
    ),
    self: hostPort().optional().describe(
      "This cache's HOST:HTTP_PORT as its peers know it (its id in the hash). Default: the entry of cache.peers " +
        "that is one of this cache's listeners, else the first listener. Reload: no.",
    ),
    warmupMs: durationMs(0).default(30000).describe(
      "hash+icp: a cache that joined less than this long ago is unsure of its share and asks ICP first; " +
        "longer means fewer origin fetches after a join, more ICP traffic. Reload: yes.",
    ),
  }).prefault({}),
}).superRefine((c, ctx) => {
  if (c.proxyProtocol) {
    c.listen.forEach((l, i) => {
      if (!l.tls) return;
      ctx.addIssue({
        code: "custom",
        path: ["listen", i, "tls"],
        message: "cache.proxyProtocol applies to every listener, and PROXY protocol before TLS is not supported",
      });
    });
  }
  if (c.store.lowWatermark > c.store.highWatermark) {
    ctx.addIssue({
      code: "custom",
      path: ["store", "lowWatermark"],
      message: `${c.store.lowWatermark} is above highWatermark ${c.store.highWatermark}`,
    });
  }
}).prefault({});
