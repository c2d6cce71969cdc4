/**
 * Prometheus metrics of the DR/TUN data plane, read from the running forwarders' shared counters
 * at scrape time. Per-server connections, packets and bytes are the director's
 * (`webcache_director_*`, fed by {@link DataplaneForwarder}); these are the data plane's own:
 *
 * - `webcache_dataplane_frames_total{direction="rx"|"tx"}` — frames received from the filter, sent.
 * - `webcache_dataplane_drops_total{reason}` — frames not forwarded: `no_server`, `no_mac`,
 *   `malformed`, `truncated`, `send_failed`, `too_big` (TUN, DF set: frag-needed sent instead), `tun_gso`.
 * - `webcache_dataplane_arp_sent_total{kind="reply"|"request"|"gratuitous"}`.
 * - `webcache_dataplane_frag_needed_sent_total` — ICMP fragmentation-needed sent to clients (TUN).
 * - `webcache_dataplane_checksums_completed_total` — partial checksums finished before tunnelling.
 * - `webcache_dataplane_tun_fragmented_total{what="packets"|"fragments"}` — TUN packets without DF too big for
 *   the MTU once encapsulated, sent as IPv4 fragments of the outer packet (as the IP layer does for IPVS), and
 *   the fragments sent.
 * - `webcache_dataplane_loop_wakeups_total` — returns from the forwarding loop's poll(); frames per
 *   wake-up (rx / wake-ups) shows how well receive batches fill.
 * - `webcache_dataplane_fast_path_active` — 1 while the in-kernel DR fast path is attached.
 * - `webcache_dataplane_fast_path_packets_total`, `..._bytes_total` — packets and IP bytes it forwarded
 *   (they never reach the loop, so they are not in `frames_total`).
 * - `webcache_dataplane_fast_path_flows` — flows installed now;
 *   `webcache_dataplane_fast_path_installs_total{result="ok"|"failed"}` — installs, and those the kernel
 *   refused (flow map full: the flow stays in user space).
 *
 * @module
 */
import { Counter, Gauge, registry } from "../../core/metrics.ts";
import type { PacketForwarder } from "./packet_forwarder.ts";

const sources = new Set<PacketForwarder>();

/** Adds a running forwarder to the scrape (removed with the returned function). */
export function trackForwarder(f: PacketForwarder): () => void {
  sources.add(f);
  return () => sources.delete(f);
}

function sum(pick: (g: ReturnType<PacketForwarder["stats"]>["global"]) => number): number {
  let n = 0;
  for (const f of sources) n += pick(f.stats().global);
  return n;
}

/** Frames in and out. */
export const framesTotal = new Counter({
  name: "webcache_dataplane_frames_total",
  help: "Frames the DR/TUN data plane received from its BPF filter (rx) and sent (tx).",
  labelNames: ["direction"],
  registers: [registry],
  collect() {
    this.reset();
    this.inc({ direction: "rx" }, sum((g) => g.rxPackets));
    this.inc({ direction: "tx" }, sum((g) => g.txPackets));
  },
});

const DROPS: [string, keyof ReturnType<PacketForwarder["stats"]>["global"]][] = [
  ["no_server", "dropNoServer"],
  ["no_mac", "dropNoMac"],
  ["malformed", "dropMalformed"],
  ["truncated", "dropTruncated"],
  ["send_failed", "dropSendFailed"],
  ["too_big", "dropTooBig"],
  ["tun_gso", "dropTunGso"],
];

/** Frames not forwarded, by reason. */
export const dropsTotal = new Counter({
  name: "webcache_dataplane_drops_total",
  help: "Frames the DR/TUN data plane did not forward, by reason.",
  labelNames: ["reason"],
  registers: [registry],
  collect() {
    this.reset();
    for (const [reason, key] of DROPS) this.inc({ reason }, sum((g) => g[key]));
  },
});

/** ARP frames sent. */
export const arpSentTotal = new Counter({
  name: "webcache_dataplane_arp_sent_total",
  help: "ARP frames sent by the data plane: replies for the VIP, requests for next hops, gratuitous announcements.",
  labelNames: ["kind"],
  registers: [registry],
  collect() {
    this.reset();
    this.inc({ kind: "reply" }, sum((g) => g.arpRepliesSent));
    this.inc({ kind: "request" }, sum((g) => g.arpRequestsSent));
    this.inc({ kind: "gratuitous" }, sum((g) => g.garpSent));
  },
});

/** ICMP fragmentation-needed messages sent. */
export const fragNeededTotal = new Counter({
  name: "webcache_dataplane_frag_needed_sent_total",
  help: "ICMP fragmentation-needed messages sent to clients whose packets did not fit the tunnel (TUN).",
  registers: [registry],
  collect() {
    this.reset();
    this.inc(sum((g) => g.fragNeededSent));
  },
});

/** Partial checksums completed in software. */
export const checksumsCompletedTotal = new Counter({
  name: "webcache_dataplane_checksums_completed_total",
  help: "CHECKSUM_PARTIAL frames whose TCP checksum the data plane completed before IP-in-IP encapsulation.",
  registers: [registry],
  collect() {
    this.reset();
    this.inc(sum((g) => g.checksumsCompleted));
  },
});

/** Wake-ups of the forwarding loop. */
export const loopWakeupsTotal = new Counter({
  name: "webcache_dataplane_loop_wakeups_total",
  help: "Returns from the DR/TUN forwarding loop's poll(); received frames divided by this is the batch fill.",
  registers: [registry],
  collect() {
    this.reset();
    this.inc(sum((g) => g.loopWakeups));
  },
});

/** TUN packets fragmented. */
export const tunFragmentedTotal = new Counter({
  name: "webcache_dataplane_tun_fragmented_total",
  help:
    "TUN packets without DF too big for the MTU once encapsulated (packets), sent as outer IPv4 fragments (fragments).",
  labelNames: ["what"],
  registers: [registry],
  collect() {
    this.reset();
    this.inc({ what: "packets" }, sum((g) => g.tunFragmented));
    this.inc({ what: "fragments" }, sum((g) => g.tunFragments));
  },
});

/** Whether the DR fast path is attached. */
export const fastPathActive = new Gauge({
  name: "webcache_dataplane_fast_path_active",
  help: "1 while the in-kernel DR fast path (director.fastPath) is attached at tcx ingress, else 0.",
  registers: [registry],
  collect() {
    this.set(sum((g) => g.fastPathActive));
  },
});

/** Packets forwarded in the kernel. */
export const fastPathPacketsTotal = new Counter({
  name: "webcache_dataplane_fast_path_packets_total",
  help: "Packets of established DR flows forwarded by the in-kernel fast path (not seen by the user-space loop).",
  registers: [registry],
  collect() {
    this.reset();
    this.inc(sum((g) => g.fastPathPackets));
  },
});

/** IP bytes forwarded in the kernel. */
export const fastPathBytesTotal = new Counter({
  name: "webcache_dataplane_fast_path_bytes_total",
  help: "IP bytes of established DR flows forwarded by the in-kernel fast path.",
  registers: [registry],
  collect() {
    this.reset();
    this.inc(sum((g) => g.fastPathBytes));
  },
});

/** Flows installed in the kernel now. */
export const fastPathFlows = new Gauge({
  name: "webcache_dataplane_fast_path_flows",
  help: "Established DR flows installed in the in-kernel fast path now.",
  registers: [registry],
  collect() {
    this.set(sum((g) => g.fastPathFlows));
  },
});

/** Flow installs. */
export const fastPathInstallsTotal = new Counter({
  name: "webcache_dataplane_fast_path_installs_total",
  help:
    "Flows installed in the in-kernel fast path (ok), and installs it refused because its flow map was full (failed).",
  labelNames: ["result"],
  registers: [registry],
  collect() {
    this.reset();
    this.inc({ result: "ok" }, sum((g) => g.fastPathInstalls));
    this.inc({ result: "failed" }, sum((g) => g.fastPathInstallFailed));
  },
});

/** New connections scheduled in the kernel. */
export const kernelScheduledTotal = new Counter({
  name: "webcache_dataplane_kernel_scheduled_total",
  help: "New connections of mh services whose SYN the in-kernel fast path scheduled itself, entered in the " +
    "connection table afterwards (ok), or not entered (rejected: table full or server gone; the kernel's flow was " +
    "removed and user space scheduled the flow's next packet); and ends (FIN, RST) of such connections forwarded " +
    "in the kernel and applied to the table (ended).",
  labelNames: ["result"],
  registers: [registry],
  collect() {
    this.reset();
    this.inc({ result: "ok" }, sum((g) => g.kernelScheduled));
    this.inc({ result: "rejected" }, sum((g) => g.kernelScheduleRejected));
    this.inc({ result: "ended" }, sum((g) => g.kernelEnded));
  },
});
