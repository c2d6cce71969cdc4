/**
 * `director.ha:` — director high availability: several directors serve the same VIPs, one of them
 * (the MASTER of the VIP group) forwards, and the others (BACKUPs) keep its connection table warm so
 * a takeover breaks no established connection (keepalived's VRRP plus the IPVS sync daemon, done by
 * webcache itself over the authenticated cluster key). See `lb/ha/mod.ts`.
 *
 * @module
 */
import { z } from "zod";
import { count, durationMs, hostPort, port } from "./_types.ts";

/** HA modes. */
export const HA_MODES = ["none", "active-backup", "active-active"] as const;

/**
 * Schedulers allowed with `active-active`: stateless hashes, so every director picks the same server for a
 * flow from the same membership, whichever director the router sends a packet to.
 */
export const ACTIVE_ACTIVE_SCHEDULERS = ["mh", "sh", "dh"] as const;

/** Schema of `director.ha`. */
export const DirectorHaSchema = z.strictObject({
  mode: z.enum(HA_MODES).default("none").describe(
    "none: this director alone owns its VIPs (default). active-backup: one MASTER per vipGroup forwards and " +
      "answers ARP for the VIPs; the BACKUPs stay silent, watch the MASTER's heartbeat and keep its connection " +
      "table; the best BACKUP takes over (gratuitous ARP) when the heartbeat stops. Needs director.vipMode arp and " +
      "a cluster key (cluster.keyFile / secretKey / WEBCACHE_CLUSTER_KEY), or cluster.insecure. " +
      "active-active: every director forwards for the VIPs behind an ECMP router (a multipath route to the " +
      "directors, L4 hash); no director answers ARP for a VIP; each picks the real server from the same " +
      "stateless table (services must use scheduler mh, sh or dh, without persistence), so a flow reaches the " +
      "same cache whichever director receives it, and a mid-flow packet a director has no entry for is " +
      "scheduled by that table, not dropped. No heartbeat or connection sync. Needs director.vipMode arp. " +
      "Reload: no (restart).",
  ),
  vipGroup: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).default("default").describe(
    "Name of the VIP group (keepalived's vrrp_instance): directors with the same group elect one MASTER among " +
      "themselves and ignore other groups' heartbeats. Reload: no (restart).",
  ),
  priority: count(1).max(254).default(100).describe(
    "Election priority 1-254 (VRRP): the highest alive wins, ties go to the higher node name. Reload: no (restart).",
  ),
  preempt: z.boolean().default(true).describe(
    "true (VRRP default): a BACKUP with a higher priority than the MASTER takes over (after preemptDelayMs). " +
      "false (keepalived nopreempt): a running MASTER keeps the VIPs until it fails or stops, which avoids a second " +
      "takeover when a repaired director returns. Reload: no (restart).",
  ),
  preemptDelayMs: durationMs(0).default(2000).describe(
    "A BACKUP preempts a lower-priority MASTER only after being BACKUP this long (keepalived preempt_delay), so a " +
      "returning director first receives the MASTER's full connection table. Reload: no (restart).",
  ),
  advertIntervalMs: count(10).max(10_000).default(100).describe(
    "Heartbeat interval, ms: the MASTER sends one to every peer this often (VRRP advert_int is 1000). A BACKUP " +
      "declares the MASTER dead after deadAfter × interval + skew, skew = (256 − priority) / 256 × interval; at " +
      "100 ms and 3 that is about 330 ms on this kind of machine (measured: every 100 ms heartbeat arrived within " +
      "113 ms under load). Lower means faster takeover and more risk of a false one when the host stalls. " +
      "Reload: no (restart).",
  ),
  deadAfter: count(2).max(100).default(3).describe(
    "Missed heartbeats before a BACKUP takes over (VRRP's 3). Reload: no (restart).",
  ),
  listen: port().default(7948).describe(
    "UDP port of the heartbeat and connection-sync channel, bound on director.interface's address (or 0.0.0.0 " +
      "when no interface is set). Reload: no (restart).",
  ),
  peers: z.array(hostPort()).default([]).describe(
    "Other directors of the group, HOST:PORT of their ha.listen. Empty: the director members of the cluster, at " +
      "their tunnel address (the director.interface address) and this node's ha.listen port. Reload: no (restart).",
  ),
  sync: z.strictObject({
    enabled: z.boolean().default(true).describe(
      "The MASTER streams connection-table changes (new entries, state changes, expiry, persistence templates) " +
        "to the BACKUPs, which keep them (and their in-kernel fast-path flows) warm. Reload: no (restart).",
    ),
    intervalMs: count(10).max(10_000).default(100).describe(
      "Connection changes are batched and sent this often, ms (IPVS sends a batch when a message fills or after " +
        "1 s). A connection opened less than this before the MASTER dies may move to another cache on takeover. " +
        "Reload: no (restart).",
    ),
    maxDatagramBytes: count(512).max(60_000).default(1400).describe(
      "Largest sync datagram before encryption (one Ethernet frame at 1400); bigger batches are split. " +
        "Reload: no (restart).",
    ),
    fullSyncIntervalMs: durationMs(0).default(30_000).describe(
      "The MASTER also sends its whole table this often, ms, refreshing the BACKUPs' timeouts of long-lived " +
        "entries and repairing lost datagrams (IPVS sync_refresh_period); and always to a peer it sees for the " +
        "first time. 0: only to new peers. Reload: no (restart).",
    ),
    gapGraceMs: count(1).max(10_000).default(50).describe(
      "Sync batches carry a sequence number; a BACKUP that misses one (a lost datagram, its own inbox full, or " +
        "the MASTER's heartbeat naming a later one) waits this long for it to arrive out of order, ms, then asks " +
        "the MASTER for its whole table at once instead of waiting for fullSyncIntervalMs. Lower repairs sooner; " +
        "too low asks for tables that reordering alone would have filled. Reload: no (restart).",
    ),
    resyncIntervalMs: durationMs(0).default(1000).describe(
      "A BACKUP asks the MASTER for its whole table at most this often, ms (a MASTER also serves at most one " +
        "full table per 200 ms, and one already on its way answers requests for older gaps). Bounds the cost of " +
        "a lossy link: each request sends the whole table. 0: never ask (only fullSyncIntervalMs repairs). " +
        "Reload: no (restart).",
    ),
  }).prefault({}),
}).prefault({});

/** A validated `director.ha` section. */
export type DirectorHaConfig = z.output<typeof DirectorHaSchema>;
