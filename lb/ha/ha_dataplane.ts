/**
 * What director HA needs from the DR/TUN data plane (the packet forwarder implements it): switching
 * between forwarding (MASTER) and standby (BACKUP/FAULT), the MASTER's connection changes out, the
 * synced batches in, and a few counters.
 *
 * @module
 */
import type { ConnState } from "../conn_state_codec.ts";
import type { SYNC_COUNTERS } from "./sync_inbox.ts";

/** Sync counters of the data plane. */
export type SyncCounters = Record<keyof typeof SYNC_COUNTERS, number> & {
  /** Batches dropped because the Worker's inbox was full. */
  inboxDropped: number;
};

/** The data plane as director HA drives it. */
export interface HaDataplane {
  /**
   * MASTER: forward, answer ARP for the VIPs, announce them with gratuitous ARPs at once, and journal
   * changes. Otherwise: forward nothing and stay silent, but keep (and accept) synced entries.
   *
   * @returns once the data plane applied it
   */
  setActive(active: boolean): Promise<void>;
  /**
   * Clean stop of a MASTER: keep forwarding what still arrives, but answer no ARP for the VIPs, so the
   * new MASTER's gratuitous ARP is final.
   */
  release(): Promise<void>;
  /** An active data plane sends gratuitous ARPs for the VIPs again, at once (another MASTER took them). */
  announce(): Promise<void>;
  /** Hands a synced batch (encoded connection state) to the data plane; false when its inbox is full. */
  pushSync(payload: Uint8Array): boolean;
  /** Asks for the whole table as one batch (delivered through {@link onSync} with `full`). */
  requestFull(): void;
  /** Registers the receiver of the MASTER's batches. */
  onSync(cb: (state: ConnState, full: boolean) => void): void;
  /** Sync counters. */
  syncCounters(): SyncCounters;
  /** Connection entries in the data plane's table. */
  entries(): number;
  /** Whether the data plane runs (its failure is a FAULT). */
  healthy(): boolean;
}
