/**
 * `director:` — the layer-4 load balancer: virtual services, real servers, schedulers,
 * persistence, connection table and forwarding.
 *
 * @module
 */
import { z } from "zod";
import { count, durationMs, durationS, host, ipv4, port } from "./_types.ts";
import { ACTIVE_ACTIVE_SCHEDULERS, DirectorHaSchema } from "./director_ha_schema.ts";
import { HealthCheckSchema } from "./health_schema.ts";

/** IPVS scheduler names (`ipvsadm -s`), plus mh for Maglev hashing. */
export const SCHEDULERS = ["rr", "wrr", "lc", "wlc", "sed", "nq", "lblc", "lblcr", "dh", "sh", "mh"] as const;
/** Forwarding methods: LVS direct routing, IP-in-IP tunnel, or a user-space TCP proxy. */
export const METHODS = ["proxy", "dr", "tun"] as const;

/** Schema of one real server. */
export const RealServerSchema = z.strictObject({
  address: host().describe("Address of the real server (cache). Reload: yes."),
  port: port().optional().describe(
    "Port on the real server; default the service port (DR/TUN require equal ports). Reload: yes.",
  ),
  weight: count(0).max(65535).default(1).describe(
    "Relative weight; 0 takes no new connections (quiesced). Reload: yes.",
  ),
  method: z.enum(METHODS).optional().describe("Forwarding method for this server; default the service's. Reload: yes."),
  upperThreshold: count(0).default(0).describe(
    "Upper connection threshold (ipvsadm -x): no new connections while active+inactive reach it. 0: none.",
  ),
});

/** Schema of one virtual service. */
export const ServiceSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).optional().describe(
    "Service name; caches that serve it advertise it in membership. Default VIP:PORT.",
  ),
  vip: ipv4().optional().describe("Virtual IP address. Omit only for a transparent service. Reload: yes."),
  port: port().default(80).describe("Virtual port (TCP). Reload: yes."),
  transparent: z.boolean().default(false).describe(
    "Match every destination on this port (IPVS fwmark service): a transparent proxy cluster.",
  ),
  scheduler: z.enum(SCHEDULERS).default("wlc").describe("Scheduler (IPVS default wlc). Reload: yes."),
  method: z.enum(METHODS).default("proxy").describe(
    "Default forwarding method: proxy (unprivileged TCP proxy), dr (direct routing), tun (IP-in-IP).",
  ),
  listen: z.string().optional().describe(
    "proxy method: local address to accept on instead of the VIP (e.g. 127.0.0.1 for the demo).",
  ),
  persistence: z.strictObject({
    timeoutS: durationS(0).default(0).describe(
      "Seconds a client sticks to its server after its last connection (ipvsadm -p; 300 is its usual value). 0: off.",
    ),
    netmask: count(0).max(32).default(32).describe(
      "Prefix length grouping clients for persistence (ipvsadm -M); 24 keeps a /24 on one server.",
    ),
  }).prefault({}),
  proxyProtocol: z.boolean().default(false).describe(
    "proxy method: send a PROXY protocol v2 header to the server. Reload: yes.",
  ),
  reals: z.array(RealServerSchema).default([]).describe("Real servers listed by address. Reload: yes."),
  fromMembership: z.boolean().default(false).describe(
    "Add live cache members that serve this service (by name) as real servers (--peers auto).",
  ),
  health: HealthCheckSchema,
  sorryServer: z.string().optional().describe(
    "HOST:PORT that gets connections while every real server is down. Reload: yes.",
  ),
}).superRefine((s, ctx) => {
  if (!s.transparent && !s.vip) {
    ctx.addIssue({ code: "custom", path: ["vip"], message: "is required unless transparent is true" });
  }
});

/** Schema of the `director` section. */
export const DirectorSchema = z.strictObject({
  interface: z.string().optional().describe("Network interface for DR/TUN packet I/O (e.g. eth0)."),
  vipMode: z.enum(["arp", "nft"]).default("arp").describe(
    "How the director owns the VIP in DR/TUN: arp (answer ARP from user space, VIP not on the host; preferred) or " +
      "nft (VIP on the interface plus an nftables drop rule so the kernel never RSTs).",
  ),
  fastPath: z.enum(["auto", "off"]).default("auto").describe(
    "DR/TUN: forward the packets of established connections in the kernel with an eBPF program at tcx ingress of " +
      "director.interface (as LVS and Katran do; TUN: IP-in-IP for packets with DF that fit the tunnel); SYN, FIN " +
      "and RST, new flows, oversize TUN packets and anything unusual still take " +
      "the user-space loop, which keeps the connection table and every scheduler and persistence authoritative. " +
      "Exception: a DR or TUN service with scheduler mh (no persistence, no thresholds) has its SYNs scheduled in the " +
      "kernel from the same Maglev table (their FIN/RST pass there too), and the loop enters those connections " +
      "afterwards, as SYN_RECV (its timeout, like IPVS for a SYN) until the housekeeping sees that more than " +
      "their SYN passed in the kernel (then ESTABLISHED, counted active), so a SYN flood's entries go after 60 s. " +
      "On a veth whose peer is in another namespace (a container) forwarded frames go straight to the peer's " +
      "receive path (bpf_redirect_peer), so a capture on the director shows them arriving, not leaving. " +
      "auto: use it when the kernel accepts the program (bpf(2), tcx: Linux 6.6+, CAP_BPF/CAP_NET_ADMIN), " +
      "else log why and forward everything in user space; off: always user space (about 9 µs of CPU more per " +
      "packet). The program is held by the director process only: it disappears when the process ends, also on " +
      "kill -9. Reload: no (restart).",
  ),
  fastPathPreallocate: z.boolean().default(false).describe(
    "DR/TUN with the fast path: allocate the kernel's flow table whole at start (maxConnections entries, about " +
      "96 bytes each of kernel memory: 1,000,000 ≈ 92 MiB) instead of one entry per new flow. Saves about 35 ns " +
      "per kernel-scheduled SYN and 0.5 µs of director CPU per ended connection (its flow's removal) in " +
      "bench/fast_path_prog_bench.ts; the memory is held whether used or not. Reload: no (restart).",
  ),
  maxConnections: count(1).default(1_000_000).describe(
    "Connection table bound (34 bytes per entry: 1,000,000 ≈ 33 MiB); when full, new flows are scheduled " +
      "statelessly by a Maglev hash of the client and counted. Reload: no (restart).",
  ),
  stateFile: z.string().min(1).optional().describe(
    "DR/TUN: file where the director keeps its connection table and persistence templates (client → real " +
      "server by ADDR:PORT, TCP state, time left), restored at start before the first packet is forwarded, so " +
      "a restart (or kill -9, losing at most stateSaveIntervalMs) keeps established flows on their caches with " +
      "every scheduler. Written atomically (temp file + rename, mode 0600; the directory is created). Unset " +
      "(default): nothing is saved; after a restart mid-flow packets are scheduled afresh, which keeps flows " +
      "only with sh, dh and mh. Restoring takes about 0.5-1 s per 1,000,000 entries before forwarding starts. " +
      "Typical: /var/lib/webcache/director.state. Reload: no (restart).",
  ),
  stateSaveIntervalMs: durationMs(1000).default(1000).describe(
    "DR/TUN with stateFile: save the connection state this often (ms) while it changes, and at stop; checked " +
      "by the data plane's once-a-second housekeeping, so it is at least 1000. A kill -9 loses flows opened " +
      "since the last save. Each save stalls forwarding while the data-plane Worker copies the table (about " +
      "10-25 ms at 1,000,000 entries); compacting, encoding (about 20 MB per 1,000,000 entries, CRC-32C) and " +
      "writing take 50-200 ms of the main thread. Reload: no (restart).",
  ),
  expireQuiescentTemplate: z.boolean().default(true).describe(
    "Expire persistence templates to a server that went down or to weight 0 (IPVS expire_quiescent_template).",
  ),
  timeouts: z.strictObject({
    establishedS: durationS(1).default(900).describe("TCP ESTABLISHED timeout, seconds (IPVS 900). Reload: yes."),
    synRecvS: durationS(1).default(60).describe("SYN_RECV timeout, seconds (IPVS 60). Reload: yes."),
    finWaitS: durationS(1).default(120).describe("FIN_WAIT timeout, seconds (IPVS 120). Reload: yes."),
    timeWaitS: durationS(1).default(120).describe("TIME_WAIT timeout, seconds (IPVS 120). Reload: yes."),
    closeS: durationS(1).default(10).describe("CLOSE (after RST) timeout, seconds (IPVS 10). Reload: yes."),
  }).prefault({}),
  proxy: z.strictObject({
    connectTimeoutMs: durationMs(1).default(3000).describe(
      "proxy method: connect timeout to the real server, ms. Reload: no (restart).",
    ),
    idleTimeoutMs: durationMs(1).default(900_000).describe(
      "proxy method: close a spliced connection idle this long, ms. Reload: no (restart).",
    ),
  }).prefault({}),
  services: z.array(ServiceSchema).default([]).describe("Virtual services. Reload: yes."),
  ha: DirectorHaSchema,
}).superRefine((d, ctx) => {
  if (d.ha.mode !== "none" && d.vipMode !== "arp") {
    ctx.addIssue({
      code: "custom",
      path: ["ha", "mode"],
      message: `"${d.ha.mode}" needs director.vipMode arp (the VIP moves by ARP, not by an address on the host)`,
    });
  }
  if (d.ha.mode === "active-active") {
    d.services.forEach((s, i) => {
      if (!(ACTIVE_ACTIVE_SCHEDULERS as readonly string[]).includes(s.scheduler)) {
        ctx.addIssue({
          code: "custom",
          path: ["services", i, "scheduler"],
          message: `"${s.scheduler}" cannot be used with director.ha.mode active-active: every director must pick ` +
            `the same server for a flow (use ${ACTIVE_ACTIVE_SCHEDULERS.join(", ")})`,
        });
      }
      if (s.persistence.timeoutS > 0) {
        ctx.addIssue({
          code: "custom",
          path: ["services", i, "persistence", "timeoutS"],
          message: `${s.persistence.timeoutS} cannot be used with director.ha.mode active-active: persistence ` +
            "templates are one director's state (set 0; sh keeps a client on one server)",
        });
      }
    });
  }
  const seen = new Map<string, number>();
  d.services.forEach((s, i) => {
    const key = s.transparent ? `*:${s.port}` : `${s.vip}:${s.port}`;
    const prev = seen.get(key);
    if (prev !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["services", i],
        message: `duplicate virtual service ${key} (also services[${prev}])`,
      });
    } else seen.set(key, i);
  });
}).prefault({});

/** A validated `director` section. */
export type DirectorConfig = z.output<typeof DirectorSchema>;
/** A validated virtual service. */
export type ServiceConfig = z.output<typeof ServiceSchema>;
