/**
 * Replay protection of the HA channel by sender epoch and sequence (as IPsec's anti-replay window,
 * RFC 4303 §3.4.3): the envelope already refuses stale and repeated nonces, and this refuses a
 * message of a sender's earlier life (older epoch) or one whose sequence was already accepted, even
 * within the envelope's time window. Sequences may arrive slightly out of order: any not yet seen
 * within {@link REPLAY_WINDOW} of the highest is accepted once.
 *
 * @module
 */

/** How far behind the highest sequence a late message is still accepted. */
export const REPLAY_WINDOW = 64;

/** Why a message was refused. */
export type ReplayVerdict = "ok" | "old-epoch" | "replay" | "too-old";

interface SenderState {
  epoch: number;
  highest: number;
  /** Bit i set: sequence highest − i was accepted (i < REPLAY_WINDOW). */
  seen: bigint;
}

const MASK = (1n << BigInt(REPLAY_WINDOW)) - 1n;

/** Per-sender epoch and sequence window. */
export class ReplayGuard {
  readonly #senders = new Map<string, SenderState>();

  /**
   * Checks and records a message.
   *
   * @param sender node id
   * @param epoch sender start time
   * @param sequence u32 message counter
   * @returns "ok" when accepted, else why not (the state is then unchanged)
   */
  check(sender: string, epoch: number, sequence: number): ReplayVerdict {
    const s = this.#senders.get(sender);
    if (!s || epoch > s.epoch) {
      this.#senders.set(sender, { epoch, highest: sequence, seen: 1n });
      return "ok";
    }
    if (epoch < s.epoch) return "old-epoch";
    if (sequence > s.highest) {
      const shift = sequence - s.highest;
      s.seen = shift >= REPLAY_WINDOW ? 1n : ((s.seen << BigInt(shift)) | 1n) & MASK;
      s.highest = sequence;
      return "ok";
    }
    const back = s.highest - sequence;
    if (back >= REPLAY_WINDOW) return "too-old";
    const bit = 1n << BigInt(back);
    if ((s.seen & bit) !== 0n) return "replay";
    s.seen |= bit;
    return "ok";
  }

  /** Forgets a sender (it left). */
  forget(sender: string): void {
    this.#senders.delete(sender);
  }
}
