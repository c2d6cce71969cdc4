/**
 * The forwarding loop's neighbour table: the MAC of every next hop the configured real servers need,
 * learnt from the kernel's ARP table at configuration, from ARP traffic on the interface, and from our
 * own ARP requests (sent every {@link ARP_REFRESH_MS} while known, every {@link ARP_RETRY_MS} while
 * not). A known MAC from membership seeds an entry so forwarding starts without waiting for ARP.
 *
 * @module
 */
import { ipv4ToInt } from "../../core/addr.ts";
import { parseMac } from "../../packet/ethernet.ts";

/** ms between ARP requests for a next hop whose MAC is known (refresh). */
export const ARP_REFRESH_MS = 30_000;
/** ms between ARP requests for a next hop whose MAC is not known yet. */
export const ARP_RETRY_MS = 1000;

/** One next hop. */
export interface Hop {
  /** Its IPv4 address as an integer. */
  ip: number;
  /** Its MAC, undefined until learnt. */
  mac: Uint8Array | undefined;
  /** ms (epoch) of our last ARP request for it. */
  lastRequest: number;
  /** The known MAC it was last seeded with (config/membership); ARP still refreshes and corrects it. */
  seed: string | undefined;
}

/** Next hops by address (see module doc). */
export class NeighbourTable {
  readonly #hops = new Map<number, Hop>();
  readonly #request: (ip: number) => void;
  /** Set when a MAC is learnt or changes; the loop clears it after re-syncing the fast path. */
  changed = false;

  /** @param request sends one ARP request for an address */
  constructor(request: (ip: number) => void) {
    this.#request = request;
  }

  /** All next hops. */
  get hops(): IterableIterator<Hop> {
    return this.#hops.values();
  }

  /**
   * Returns the entry for a next hop, creating it; a seed MAC that is new or changed is applied.
   *
   * @param ip the next hop's address
   * @param seedMac a MAC known from configuration or membership
   */
  want(ip: number, seedMac: string | undefined): Hop {
    let h = this.#hops.get(ip);
    if (!h) {
      h = { ip, mac: undefined, lastRequest: 0, seed: undefined };
      this.#hops.set(ip, h);
    }
    if (seedMac !== h.seed) {
      h.seed = seedMac;
      if (seedMac) h.mac = parseMac(seedMac);
    }
    return h;
  }

  /** Forgets the next hops not in `wanted`. */
  retain(wanted: Set<number>): void {
    for (const ip of [...this.#hops.keys()]) if (!wanted.has(ip)) this.#hops.delete(ip);
  }

  /** Seeds unknown MACs from the kernel's neighbour table (`/proc/net/arp`) for one interface. */
  learnFromKernel(ifname: string): void {
    try {
      for (const line of Deno.readTextFileSync("/proc/net/arp").split("\n").slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f.length < 6 || f[5] !== ifname || f[2] === "0x0") continue;
        const h = this.#hops.get(ipv4ToInt(f[0]));
        if (h && !h.mac) h.mac = parseMac(f[3]);
      }
    } catch { /* no /proc: ARP only */ }
  }

  /**
   * Learns from the sender of an ARP request or reply (only for addresses that are next hops).
   *
   * @param ip the sender's address
   * @param mac the sender's MAC
   */
  learn(ip: number, mac: Uint8Array): void {
    const h = this.#hops.get(ip);
    if (!h || ip === 0) return;
    if (!h.mac || h.mac.some((b, i) => b !== mac[i])) this.changed = true;
    h.mac = mac;
  }

  /** Sends an ARP request for a next hop now. */
  request(h: Hop, now: number): void {
    h.lastRequest = now;
    this.#request(h.ip);
  }

  /** Sends an ARP request for a next hop whose MAC is missing, at most every {@link ARP_RETRY_MS}. */
  retry(h: Hop, now: number): void {
    if (now - h.lastRequest >= ARP_RETRY_MS) this.request(h, now);
  }

  /** Asks at once for every next hop without a MAC (after a configuration). */
  requestMissing(now: number): void {
    for (const h of this.#hops.values()) if (!h.mac) this.request(h, now);
  }

  /** Refreshes known MACs and retries unknown ones when due (from housekeeping). */
  refresh(now: number): void {
    for (const h of this.#hops.values()) {
      if (now - h.lastRequest >= (h.mac ? ARP_REFRESH_MS : ARP_RETRY_MS)) this.request(h, now);
    }
  }
}
