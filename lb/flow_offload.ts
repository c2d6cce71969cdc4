/**
 * The dispatcher's hook for a fast path that forwards established flows without it (the DR data
 * plane's in-kernel program, `lb/dataplane/fast_path_offload.ts`), as IPVS's connection table
 * stays the authority while the packets of established connections bypass the scheduler.
 *
 * The dispatcher calls it on connection-table events; the offload mirrors them into its own flow
 * table:
 *
 * - {@link FlowOffload.install} when an entry enters ESTABLISHED (the first non-SYN packet after a
 *   SYN, a sloppy mid-flow schedule, or a restored entry). Packets with SYN, FIN or RST must still
 *   reach the dispatcher, so it sees every state change.
 * - {@link FlowOffload.remove} when an installed entry leaves ESTABLISHED (FIN, RST), is rescheduled,
 *   expires or is forgotten.
 * - {@link FlowOffload.lastSeenMs} when an installed entry's timeout has passed: packets that
 *   bypassed the dispatcher did not re-arm it, so the entry is extended from the offload's last-seen
 *   time instead of expiring while the flow is active.
 * - {@link FlowOffload.packets} then too, for an entry the kernel scheduled (SYN_RECV until then): more than its
 *   SYN passed in the kernel, so it is promoted to ESTABLISHED; otherwise it expires after SYN_RECV's timeout,
 *   as IPVS lets a half-open connection go.
 *
 * @module
 */
import type { ConnTable } from "./conn_table.ts";

/** A fast path for established flows (see module doc). */
export interface FlowOffload {
  /**
   * Starts forwarding the entry's later packets without the dispatcher.
   *
   * @param table the connection table; read the flow and its server from `slot`
   * @returns whether it was installed (false: the dispatcher keeps seeing its packets)
   */
  install(table: ConnTable, slot: number): boolean;
  /** Stops forwarding an installed entry (called before the entry changes or goes). */
  remove(table: ConnTable, slot: number): void;
  /**
   * When the installed entry last had a packet on the fast path.
   *
   * @returns wall-clock ms (the dispatcher's `nowMs` clock), or -Infinity when never or unknown
   */
  lastSeenMs(table: ConnTable, slot: number): number;
  /**
   * Packets the fast path forwarded for the installed entry (a kernel-scheduled flow counts its SYN): more than
   * one means the client got past its SYN there (the handshake's ACK or data), which the dispatcher never saw.
   *
   * @returns the count, 0 when unknown
   */
  packets(table: ConnTable, slot: number): number;
}
