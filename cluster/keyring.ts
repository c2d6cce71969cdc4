/**
 * Authenticated encryption of every gossip message with AES-GCM (WebCrypto), and a key ring for
 * rotation: messages are sealed with the primary key, and opened with whichever key of the ring
 * works. The cluster name is bound in as additional authenticated data, so two clusters with
 * different names never accept each other's messages even when they share a key.
 *
 * ## Envelope (one UDP datagram, or one TCP frame)
 *
 * ```
 * sealed (key configured):
 *  0               1                                13
 * +---------------+--------------------------------+-----------------------------------+
 * | 0x01          | nonce (12 random bytes)        | AES-GCM ciphertext ‖ tag (16)     |
 * +---------------+--------------------------------+-----------------------------------+
 *   AAD = "webcache-gossip/1\0" ‖ cluster name (UTF-8)
 *
 * clear (cluster.insecure: true only):
 * +---------------+---------------+----------------+-----------------------------------+
 * | 0x00          | name len (u8) | cluster name   | packet                            |
 * +---------------+---------------+----------------+-----------------------------------+
 * ```
 *
 * The nonce is the sender's clock in milliseconds (48 bits, big-endian) followed by 6 random bytes.
 * GCM authenticates it, so it cannot be altered: a receiver drops a sealed message whose time is
 * more than `cluster.replayWindowMs` from its own clock (`reason="stale"`) and one whose nonce it
 * has already accepted within that window (`reason="replay"`). A captured message therefore cannot
 * be played back later (a "dead" or "leave" of a node, say), and a key alone is not enough to
 * inject old state. Nodes' clocks must agree within the window (NTP), as for Kerberos.
 *
 * A node with a key drops clear envelopes (`reason="unencrypted"`); a node without one drops
 * sealed envelopes (`reason="encrypted"`). Failed authentication is `reason="auth"`, a foreign
 * cluster name in a clear envelope `reason="cluster"`. Clear envelopes have no replay protection
 * (they have no authentication either).
 *
 * @module
 */

/** Envelope version byte of a sealed message. */
export const SEALED = 0x01;
/** Envelope version byte of a clear (insecure) message. */
export const CLEAR = 0x00;
const NONCE_BYTES = 12;
/** Bytes of the nonce that carry the sender's clock (milliseconds, big-endian). */
const NONCE_TIME_BYTES = 6;
/** Default `cluster.replayWindowMs`. */
export const DEFAULT_REPLAY_WINDOW_MS = 120_000;
/** Accepted nonces remembered at most (oldest forgotten first); far above any gossip rate × window. */
const MAX_SEEN = 1 << 20;
const TAG_BYTES = 16;
const AAD_PREFIX = "webcache-gossip/1\0";

/** Why an envelope was refused: also the `reason` label of the dropped-messages counter. */
export type OpenReason =
  | "auth"
  | "unencrypted"
  | "encrypted"
  | "cluster"
  | "short"
  | "version"
  | "stale"
  | "replay";

/** Replay protection of sealed envelopes. */
export interface ReplayOptions {
  /** How far a sealed message's time may be from this node's clock, ms; 0 turns the checks off. */
  replayWindowMs?: number;
  /** The clock (tests). */
  now?: () => number;
}

/** Raised when an envelope cannot be opened. */
export class EnvelopeError extends Error {
  /** Classification, used as the metric label. */
  readonly reason: OpenReason;
  /**
   * Creates the error.
   *
   * @param reason the metric label
   */
  constructor(message: string, reason: OpenReason) {
    super(message);
    this.name = "EnvelopeError";
    this.reason = reason;
  }
}

const enc = new TextEncoder();

/**
 * Decodes one base64 AES key.
 *
 * @throws {SyntaxError} when the text is not base64
 * @throws {RangeError} when the key is not 16, 24 or 32 bytes
 */
export function decodeKey(b64: string): Uint8Array<ArrayBuffer> {
  let raw: Uint8Array<ArrayBuffer>;
  try {
    raw = Uint8Array.from(atob(b64.trim()), (c) => c.charCodeAt(0));
  } catch (e) {
    throw new SyntaxError("Cannot read cluster key: it is not base64", { cause: e });
  }
  if (![16, 24, 32].includes(raw.length)) {
    throw new RangeError(`Cannot use cluster key: ${raw.length} bytes is not 16, 24 or 32 (AES-128/192/256)`);
  }
  return raw;
}

/** Parses a key file: one base64 key per line, the first is the primary; blank lines and `#` comments skipped. */
export function parseKeyFile(text: string): string[] {
  return text.split("\n").map((l) => l.replace(/#.*/, "").trim()).filter(Boolean);
}

/** Seals and opens envelopes for one cluster name with a ring of keys (or none, when insecure). */
export class Keyring {
  readonly #keys: CryptoKey[];
  readonly #aad: Uint8Array<ArrayBuffer>;
  readonly #name: Uint8Array;
  readonly #clusterName: string;
  readonly #windowMs: number;
  readonly #now: () => number;
  /** Accepted nonces (as strings) → when they may be forgotten, in arrival order. */
  readonly #seen = new Map<string, number>();

  private constructor(keys: CryptoKey[], clusterName: string, replay: ReplayOptions) {
    this.#keys = keys;
    this.#windowMs = replay.replayWindowMs ?? DEFAULT_REPLAY_WINDOW_MS;
    this.#now = replay.now ?? Date.now;
    this.#clusterName = clusterName;
    this.#aad = enc.encode(AAD_PREFIX + clusterName);
    this.#name = enc.encode(clusterName);
    if (this.#name.length > 255) throw new RangeError(`Cluster name "${clusterName}" is longer than 255 bytes`);
  }

  /**
   * Builds a key ring.
   *
   * @param keys base64 keys, primary first; empty means clear envelopes (insecure)
   * @param clusterName bound into every envelope
   * @param replay replay protection (default: a 2-minute window)
   * @throws {SyntaxError|RangeError} for a malformed key
   */
  static async create(keys: readonly string[], clusterName: string, replay: ReplayOptions = {}): Promise<Keyring> {
    const imported = await Promise.all(
      keys.map((k) => crypto.subtle.importKey("raw", decodeKey(k), "AES-GCM", false, ["encrypt", "decrypt"])),
    );
    return new Keyring(imported, clusterName, replay);
  }

  /** Whether messages are encrypted (false only in insecure mode). */
  get secure(): boolean {
    return this.#keys.length > 0;
  }

  /** The cluster name bound into envelopes. */
  get clusterName(): string {
    return this.#clusterName;
  }

  /** Wraps a packet: encrypted with the primary key, or in a clear envelope when there is none. */
  async seal(packet: Uint8Array): Promise<Uint8Array> {
    if (!this.secure) {
      const out = new Uint8Array(2 + this.#name.length + packet.length);
      out[0] = CLEAR;
      out[1] = this.#name.length;
      out.set(this.#name, 2);
      out.set(packet, 2 + this.#name.length);
      return out;
    }
    const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
    const t = Math.max(0, Math.floor(this.#now()));
    for (let i = NONCE_TIME_BYTES - 1, v = t; i >= 0; i--, v = Math.floor(v / 256)) nonce[i] = v % 256;
    const ct = new Uint8Array(
      await crypto.subtle.encrypt(
        { name: "AES-GCM", iv: nonce, additionalData: this.#aad, tagLength: TAG_BYTES * 8 },
        this.#keys[0],
        packet as Uint8Array<ArrayBuffer>,
      ),
    );
    const out = new Uint8Array(1 + NONCE_BYTES + ct.length);
    out[0] = SEALED;
    out.set(nonce, 1);
    out.set(ct, 1 + NONCE_BYTES);
    return out;
  }

  /**
   * Unwraps an envelope, trying every key of the ring.
   *
   * @throws {EnvelopeError} when it fails authentication, is of the wrong kind, or is truncated
   */
  async open(env: Uint8Array): Promise<Uint8Array> {
    if (env.length < 1) throw new EnvelopeError("Cannot open gossip envelope: it is empty", "short");
    if (env[0] === CLEAR) {
      if (this.secure) {
        throw new EnvelopeError("Dropped clear gossip message: this cluster requires a key", "unencrypted");
      }
      if (env.length < 2 || env.length < 2 + env[1]) {
        throw new EnvelopeError("Cannot open gossip envelope: truncated cluster name", "short");
      }
      const name = env.subarray(2, 2 + env[1]);
      if (name.length !== this.#name.length || name.some((b, i) => b !== this.#name[i])) {
        throw new EnvelopeError(
          `Dropped gossip message of cluster "${new TextDecoder().decode(name)}": this is "${this.#clusterName}"`,
          "cluster",
        );
      }
      return env.subarray(2 + env[1]);
    }
    if (env[0] !== SEALED) {
      throw new EnvelopeError(`Cannot open gossip envelope: version ${env[0]} is unknown`, "version");
    }
    if (!this.secure) throw new EnvelopeError("Dropped encrypted gossip message: no key configured", "encrypted");
    if (env.length < 1 + NONCE_BYTES + TAG_BYTES) {
      throw new EnvelopeError(
        `Cannot open gossip envelope: length ${env.length} is less than ${1 + NONCE_BYTES + TAG_BYTES}`,
        "short",
      );
    }
    const nonce = env.slice(1, 1 + NONCE_BYTES);
    const ct = env.slice(1 + NONCE_BYTES);
    for (const key of this.#keys) {
      let plain: Uint8Array;
      try {
        plain = new Uint8Array(
          await crypto.subtle.decrypt(
            { name: "AES-GCM", iv: nonce, additionalData: this.#aad, tagLength: TAG_BYTES * 8 },
            key,
            ct,
          ),
        );
      } catch {
        continue; // try the next key
      }
      this.#checkFresh(nonce);
      return plain;
    }
    throw new EnvelopeError("Dropped gossip message: authentication failed with every key", "auth");
  }

  /** Replay protection of an authenticated nonce: its time within the window, and not seen before. */
  #checkFresh(nonce: Uint8Array): void {
    if (this.#windowMs <= 0) return;
    let sent = 0;
    for (let i = 0; i < NONCE_TIME_BYTES; i++) sent = sent * 256 + nonce[i];
    const now = this.#now();
    if (Math.abs(now - sent) > this.#windowMs) {
      throw new EnvelopeError(
        `Dropped gossip message sent at ${new Date(sent).toISOString()}: more than ${this.#windowMs} ms from this ` +
          `node's clock (${new Date(now).toISOString()}); replayed, or the clocks differ`,
        "stale",
      );
    }
    const id = String.fromCharCode(...nonce);
    if (this.#seen.has(id)) throw new EnvelopeError("Dropped gossip message: its nonce was seen before", "replay");
    // Forget what the time check now rejects anyway (arrival order is close to time order).
    for (const [k, until] of this.#seen) {
      if (until >= now && this.#seen.size < MAX_SEEN) break;
      this.#seen.delete(k);
    }
    this.#seen.set(id, sent + this.#windowMs);
  }

  /** Accepted nonces remembered for replay protection (tests, metrics). */
  get rememberedNonces(): number {
    return this.#seen.size;
  }
}

/** Where the cluster keys come from, in order of precedence. */
export interface KeySources {
  /** `--cluster-key-file FILE` */
  keyFileFlag?: string;
  /** `cluster.keyFile` */
  keyFile?: string;
  /** `cluster.secretKey` */
  secretKey?: string;
  /** `cluster.keyRing`: older keys accepted on receive */
  keyRing?: readonly string[];
  /** The value of `WEBCACHE_CLUSTER_KEY` */
  env?: string;
}

/**
 * Resolves the key list (primary first): `--cluster-key-file`, then `cluster.keyFile`, then
 * `cluster.secretKey`, then `WEBCACHE_CLUSTER_KEY`; `cluster.keyRing` is appended.
 *
 * @returns base64 keys, validated; empty when none is configured
 * @throws {Error} when a key file cannot be read or holds no key
 * @throws {SyntaxError|RangeError} when a key is malformed
 */
export async function resolveClusterKeys(src: KeySources): Promise<string[]> {
  let keys: string[] = [];
  const file = src.keyFileFlag ?? src.keyFile;
  if (file) {
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (e) {
      throw new Error(`Cannot read cluster key file "${file}": ${(e as Error).message}`, { cause: e });
    }
    keys = parseKeyFile(text);
    if (keys.length === 0) throw new Error(`Cannot use cluster key file "${file}": it holds no key`);
  } else if (src.secretKey) keys = [src.secretKey];
  else if (src.env) keys = [src.env.trim()];
  const all = [...keys, ...(src.keyRing ?? [])];
  for (const k of all) decodeKey(k);
  return [...new Set(all)];
}
