/**
 * Whether this data plane forwards and speaks for its VIPs, and how it tells the network: the director
 * HA role (standby forwards nothing, silent forwards but stays quiet on ARP) and, with `vipMode: arp`,
 * answering ARP requests for the VIPs and sending gratuitous ARP (three at start, one a second; at
 * once on a takeover or when the MASTER reclaims its VIPs after a split brain, `notes/ha.md` §2).
 *
 * @module
 */
import { ipv4ToInt } from "../../core/addr.ts";
import { type ArpMessage, arpReplyFrame, gratuitousArpFrame } from "../../packet/arp.ts";
import { ARP_REQUEST } from "../../packet/arp.ts";
import type { DataplaneConfig } from "./config.ts";
import { GLOBAL } from "./control.ts";

/** Poll timeout while in HA standby: bounds the delay between a takeover and forwarding. */
const STANDBY_WAIT_MS = 10;
/** Poll timeout of an active data plane with director HA. */
const HA_ACTIVE_WAIT_MS = 20;
/** Poll timeout without HA. */
const IDLE_WAIT_MS = 100;
/** Gratuitous ARPs after a configuration, one per housekeeping tick. */
const GARP_REPEATS = 3;

/** The VIP ownership of one data plane (see module doc). */
export class VipOwner {
  readonly #arpMode: boolean;
  readonly #ha: boolean;
  readonly #ourMac: Uint8Array;
  readonly #send: (frame: Uint8Array, counter: number) => void;
  #vips = new Set<number>();
  #standby = false;
  #silent = false;
  #garpLeft = 0;
  #announced = 0;

  /**
   * @param opts `arp` when this data plane answers ARP for the VIPs, whether director HA runs, our MAC
   * @param send sends an ARP frame and counts it under a {@link GLOBAL} counter
   */
  constructor(
    opts: { vipMode: "arp" | "nft"; ha: boolean; ourMac: Uint8Array },
    send: (frame: Uint8Array, counter: number) => void,
  ) {
    this.#arpMode = opts.vipMode === "arp";
    this.#ha = opts.ha;
    this.#ourMac = opts.ourMac;
    this.#send = send;
  }

  /** True while HA keeps this data plane in standby (it forwards nothing). */
  get standby(): boolean {
    return this.#standby;
  }

  /** ms the loop may sleep without traffic: a role change is seen at the next wake-up. */
  get pollWaitMs(): number {
    return this.#standby ? STANDBY_WAIT_MS : this.#ha ? HA_ACTIVE_WAIT_MS : IDLE_WAIT_MS;
  }

  /** True when ARP for the VIPs is ours to answer and announce now. */
  get #speaks(): boolean {
    return this.#arpMode && !this.#standby && !this.#silent;
  }

  /**
   * Takes a configuration's role and VIPs; announces the VIPs at once after a takeover or when the
   * configuration's `announce` counter changed.
   */
  configure(cfg: DataplaneConfig): void {
    const wasStandby = this.#standby;
    this.#standby = cfg.standby === true;
    this.#silent = cfg.silent === true;
    this.#vips = new Set(cfg.services.filter((s) => !s.transparent && s.vip).map((s) => ipv4ToInt(s.vip!)));
    if (this.#speaks && this.#vips.size) {
      this.#garpLeft = GARP_REPEATS;
      if (wasStandby || (cfg.announce ?? 0) !== this.#announced) this.#announce();
    }
    this.#announced = cfg.announce ?? 0;
  }

  /** Answers an ARP request for one of our VIPs (when ours to answer). */
  answer(m: ArpMessage): void {
    if (m.op === ARP_REQUEST && this.#speaks && this.#vips.has(m.targetIp) && m.senderIp !== m.targetIp) {
      this.#send(arpReplyFrame(m, this.#ourMac, m.targetIp), GLOBAL.arpRepliesSent);
    }
  }

  /** Sends the next of the repeated gratuitous ARPs (from housekeeping). */
  tick(): void {
    if (this.#garpLeft > 0 && this.#speaks) {
      this.#garpLeft--;
      this.#announce();
    }
  }

  #announce(): void {
    for (const vip of this.#vips) this.#send(gratuitousArpFrame(this.#ourMac, vip), GLOBAL.garpSent);
  }
}
