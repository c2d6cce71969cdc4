/**
 * The connection table: a chained hash table over structure-of-arrays typed storage, so a million
 * entries cost a few dozen bytes each and the garbage collector sees a handful of objects.
 *
 * Per entry (bytes): saddr 4, daddr 4, ports 4 (`sport << 16 | dport`) and chain link 4
 * interleaved in one 16-byte record (one cache line per probe), service 2, server 2, state 1,
 * flags 1, expiry 8 (ms, float64), plus one 4-byte bucket head per entry
 * (load factor ≤ 1): 34 bytes. Storage grows by doubling up to `maxEntries` and never shrinks.
 *
 * Addresses and ports are taken as unsigned 32-bit (`>>> 0`), so signed results of `<<` work too.
 * Only TCP is tracked, so the protocol is not part of the key. Slots are integers; callers read and
 * write fields through the methods. No I/O, no allocation on lookup.
 *
 * @module
 */

/** Bytes of typed storage per entry at full size, bucket head included (34). */
export const CONN_ENTRY_BYTES: number = 4 + 4 + 4 + 2 + 2 + 1 + 1 + 8 + 4 + 4;

const INITIAL = 1024;

/** A copy of a table's slots (see {@link ConnTable.copySlots}). */
export interface ConnTableSlots {
  /** Slots copied. */
  highWater: number;
  /** Per slot: saddr, daddr, ports (`sport << 16 | dport`), chain link, as int32. */
  keys: Int32Array;
  /** Service id + 1 per slot; 0 marks a free slot. */
  service: Uint16Array;
  /** Server id per slot. */
  server: Uint16Array;
  /** TCP state per slot. */
  state: Uint8Array;
  /** Flag bits per slot. */
  flags: Uint8Array;
  /** Expiry per slot, ms. */
  expiresMs: Float64Array;
}

/** The connection table. */
export class ConnTable {
  /** Upper bound on entries. */
  readonly maxEntries: number;
  #cap = 0;
  #size = 0;
  #high = 0;
  #free = -1;
  #mask = 0;
  #buckets = new Int32Array(0);
  /** Interleaved per entry: saddr, daddr, ports, next (int32), so a probe touches one cache line. */
  #keys = new Int32Array(0);
  /** Service id + 1; 0 marks a free slot. */
  #svc = new Uint16Array(0);
  #dest = new Uint16Array(0);
  #state = new Uint8Array(0);
  #flags = new Uint8Array(0);
  #expires = new Float64Array(0);

  /**
   * Creates an empty table that grows up to `maxEntries`.
   *
   * @param maxEntries the memory bound (`director.maxConnections`)
   * @throws {RangeError} when it is not a positive integer
   */
  constructor(maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`Cannot create connection table: maxEntries ${maxEntries} is not a positive integer`);
    }
    this.maxEntries = maxEntries;
    this.#grow(Math.min(INITIAL, maxEntries));
  }

  /** Entries in use. */
  get size(): number {
    return this.#size;
  }

  /** Allocated entry slots. */
  get capacity(): number {
    return this.#cap;
  }

  /** Whether no entry can be added. */
  get full(): boolean {
    return this.#size >= this.maxEntries;
  }

  /** Bytes held by the typed arrays. */
  get bytes(): number {
    return this.#cap * (CONN_ENTRY_BYTES - 4) + this.#buckets.byteLength;
  }

  #hash(saddr: number, daddr: number, ports: number): number {
    let h = Math.imul(saddr ^ 0x9e3779b9, 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13) ^ daddr, 0xc2b2ae35);
    h = Math.imul(h ^ (h >>> 16) ^ ports, 0x27d4eb2f);
    return (h ^ (h >>> 15)) & this.#mask;
  }

  /**
   * Finds an entry.
   *
   * @returns the slot, or -1
   */
  lookup(saddr: number, daddr: number, ports: number): number {
    saddr |= 0;
    daddr |= 0;
    ports |= 0;
    const k = this.#keys;
    let i = this.#buckets[this.#hash(saddr, daddr, ports)];
    while (i >= 0) {
      const o = i << 2;
      if (k[o] === saddr && k[o + 2] === ports && k[o + 1] === daddr) return i;
      i = k[o + 3];
    }
    return -1;
  }

  /**
   * Adds an entry (the caller has checked it is absent).
   *
   * @returns the slot, or -1 when the table is full
   */
  insert(
    saddr: number,
    daddr: number,
    ports: number,
    svc: number,
    dest: number,
    state: number,
    expiresMs: number,
  ): number {
    if (this.#size >= this.maxEntries) return -1;
    saddr |= 0;
    daddr |= 0;
    ports |= 0;
    let i: number;
    if (this.#free >= 0) {
      i = this.#free;
      this.#free = this.#keys[(i << 2) + 3];
    } else {
      if (this.#high >= this.#cap) this.#grow(Math.min(this.#cap * 2, this.maxEntries));
      i = this.#high++;
    }
    const o = i << 2;
    this.#keys[o] = saddr;
    this.#keys[o + 1] = daddr;
    this.#keys[o + 2] = ports;
    this.#svc[i] = svc + 1;
    this.#dest[i] = dest;
    this.#state[i] = state;
    this.#flags[i] = 0;
    this.#expires[i] = expiresMs;
    const b = this.#hash(saddr, daddr, ports);
    this.#keys[o + 3] = this.#buckets[b];
    this.#buckets[b] = i;
    this.#size++;
    return i;
  }

  /** Removes the entry in `slot`. */
  remove(slot: number): void {
    if (this.#svc[slot] === 0) return;
    const k = this.#keys;
    const so = slot << 2;
    const b = this.#hash(k[so], k[so + 1], k[so + 2]);
    let i = this.#buckets[b];
    let prev = -1;
    while (i >= 0 && i !== slot) {
      prev = i;
      i = k[(i << 2) + 3];
    }
    if (i < 0) return;
    if (prev < 0) this.#buckets[b] = k[so + 3];
    else k[(prev << 2) + 3] = k[so + 3];
    this.#svc[slot] = 0;
    k[so + 3] = this.#free;
    this.#free = slot;
    this.#size--;
  }

  /** Whether `slot` holds an entry. */
  used(slot: number): boolean {
    return slot < this.#high && this.#svc[slot] !== 0;
  }
  /** One past the highest slot ever used (iteration bound). */
  get highWater(): number {
    return this.#high;
  }
  /** Service id of an entry. */
  service(slot: number): number {
    return this.#svc[slot] - 1;
  }
  /** Server id of an entry. */
  server(slot: number): number {
    return this.#dest[slot];
  }
  /** Moves an entry to another server. */
  setServer(slot: number, dest: number): void {
    this.#dest[slot] = dest;
  }
  /** TCP state of an entry. */
  state(slot: number): number {
    return this.#state[slot];
  }
  /** Sets the TCP state. */
  setState(slot: number, state: number): void {
    this.#state[slot] = state;
  }
  /** Caller-defined flag bits (the dispatcher marks persistence-controlled entries). */
  flags(slot: number): number {
    return this.#flags[slot];
  }
  /** Sets caller-defined flag bits. */
  setFlags(slot: number, flags: number): void {
    this.#flags[slot] = flags;
  }
  /** Expiry time in ms. */
  expires(slot: number): number {
    return this.#expires[slot];
  }
  /** Sets the expiry time in ms. */
  setExpires(slot: number, ms: number): void {
    this.#expires[slot] = ms;
  }
  /** Client address of an entry. */
  saddr(slot: number): number {
    return this.#keys[slot << 2] >>> 0;
  }
  /** Virtual address of an entry. */
  daddr(slot: number): number {
    return this.#keys[(slot << 2) + 1] >>> 0;
  }
  /** `sport << 16 | dport` of an entry. */
  ports(slot: number): number {
    return this.#keys[(slot << 2) + 2] >>> 0;
  }

  /**
   * Grows the storage to hold `n` entries (at most `maxEntries`) at once, so a bulk insert (a
   * restore) does not rehash at every doubling.
   */
  reserve(n: number): void {
    const want = Math.min(Math.max(n, this.#cap), this.maxEntries);
    if (want > this.#cap) this.#grow(want);
  }

  /**
   * Copies the slots in use so far (`0 .. highWater`), free ones included, as flat typed arrays:
   * a handful of memcpys, so the data-plane Worker can hand a snapshot to another thread without
   * walking the entries (`conn_state.ts` compacts it there).
   */
  copySlots(): ConnTableSlots {
    const h = this.#high;
    return {
      highWater: h,
      keys: this.#keys.slice(0, h * 4),
      service: this.#svc.slice(0, h),
      server: this.#dest.slice(0, h),
      state: this.#state.slice(0, h),
      flags: this.#flags.slice(0, h),
      expiresMs: this.#expires.slice(0, h),
    };
  }

  #grow(cap: number): void {
    if (cap <= this.#cap) return;
    const copy = <T extends Uint16Array | Uint8Array | Float64Array>(
      old: T,
      make: (n: number) => T,
    ): T => {
      const a = make(cap);
      a.set(old);
      return a;
    };
    const keys = new Int32Array(cap * 4);
    keys.set(this.#keys);
    this.#keys = keys;
    this.#svc = copy(this.#svc, (n) => new Uint16Array(n));
    this.#dest = copy(this.#dest, (n) => new Uint16Array(n));
    this.#state = copy(this.#state, (n) => new Uint8Array(n));
    this.#flags = copy(this.#flags, (n) => new Uint8Array(n));
    this.#expires = copy(this.#expires, (n) => new Float64Array(n));
    this.#cap = cap;
    let nb = 1;
    while (nb < cap) nb <<= 1;
    this.#mask = nb - 1;
    this.#buckets = new Int32Array(nb).fill(-1);
    for (let i = 0; i < this.#high; i++) {
      if (this.#svc[i] === 0) continue;
      const o = i << 2;
      const b = this.#hash(keys[o], keys[o + 1], keys[o + 2]);
      keys[o + 3] = this.#buckets[b];
      this.#buckets[b] = i;
    }
    // Rebuild the free list (links were overwritten by the rehash only for used slots).
    this.#free = -1;
    for (let i = this.#high - 1; i >= 0; i--) {
      if (this.#svc[i] === 0) {
        keys[(i << 2) + 3] = this.#free;
        this.#free = i;
      }
    }
  }
}
