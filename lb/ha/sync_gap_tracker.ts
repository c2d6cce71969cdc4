/**
 * A BACKUP's view of each MASTER's sync stream (`message.ts`, type 3): which sync sequences of the
 * sender's epoch it holds, which are missing, and when to ask for the whole table again. Without it a
 * lost datagram is repaired only by the periodic full table (`sync.fullSyncIntervalMs`, 30 s), and a
 * connection opened in between moves to another cache on takeover. Pure: time comes in as arguments.
 *
 * - Sequences count from 1 in each epoch, so a BACKUP knows from the first batch it sees what it
 *   missed; a new epoch (the MASTER restarted) starts a new stream.
 * - A batch above the highest seen opens a missing range for the sequences skipped. A batch inside a
 *   missing range fills it (reordered, "late") and is applied; any other batch at or below the highest
 *   is a duplicate and is not applied.
 * - The MASTER's heartbeat names the last sequence it sent ({@link SyncGapTracker.announced}): a lost
 *   last batch (nothing follows it to reveal the gap) shows within one heartbeat interval.
 * - A batch the data plane could not take (its inbox was full) counts as missing.
 * - A missing range is a gap once it is older than `graceMs` (datagrams arriving a little out of
 *   order are not gaps). A gap of the MASTER this node follows makes {@link SyncGapTracker.due}
 *   return a resync request, at most once per `resyncIntervalMs`.
 * - A full table (flags first .. last, `SYNC_FULL_START` .. `SYNC_FULL_END`) received with nothing
 *   missing in it repairs every range before its first part: it was read after those batches were
 *   taken. While one is arriving, ranges before it are not gaps.
 * - At most {@link MAX_RANGES} ranges per stream; beyond that they merge into one, which then also
 *   names sequences that did arrive (a request may come sooner than needed, never later).
 *
 * @module
 */
import { SYNC_FULL_END, SYNC_FULL_START } from "./message.ts";

/** Most missing ranges kept per stream. */
export const MAX_RANGES = 64;
/** Most streams kept (one per MASTER seen; the senders are authenticated). */
export const MAX_STREAMS = 16;

/** Tracker settings. */
export interface SyncGapOptions {
  /** A missing range younger than this is not a gap yet (reordering), ms. */
  graceMs: number;
  /** Least time between two resync requests, ms; 0: never request. */
  resyncIntervalMs: number;
}

/** What a batch was. */
export type BatchVerdict = "new" | "late" | "duplicate";

/** A resync request to send now. */
export interface ResyncDue {
  /** The MASTER asked. */
  target: string;
  /** Its epoch. */
  targetEpoch: number;
  /** Highest sequence missing. */
  missingUpTo: number;
  /** "no-stream" when nothing of this epoch is held yet. */
  reason: "gap" | "no-stream";
}

/** Counters, for status and metrics. */
export interface SyncGapCounters {
  /** Missing ranges that outlived the grace time. */
  gaps: number;
  /** Batches that filled a missing range (arrived out of order). */
  late: number;
  /** Batches already held (not applied). */
  duplicates: number;
  /** Resync requests returned by {@link SyncGapTracker.due}. */
  requests: number;
  /** Missing ranges a complete full table repaired. */
  repaired: number;
}

/** Where a stream stands. */
export interface SyncPosition {
  /** The stream's epoch (0: none). */
  epoch: number;
  /** Highest sequence held with nothing missing before it. */
  held: number;
  /** Highest sequence seen or announced. */
  highest: number;
  /** Sequences missing. */
  missing: number;
}

interface Range {
  from: number;
  to: number;
  sinceMs: number;
  counted: boolean;
}

interface Stream {
  epoch: number;
  highest: number;
  /** Sorted, disjoint. */
  ranges: Range[];
  /** The full table being received: its first part, and its last once seen. */
  full?: { start: number; end?: number };
  received: boolean;
}

/** Sync sequence bookkeeping of every MASTER seen (see module doc). */
export class SyncGapTracker {
  readonly #o: SyncGapOptions;
  readonly #streams = new Map<string, Stream>();
  #lastRequestMs = -Infinity;
  /** Counters (read only). */
  readonly counters: SyncGapCounters = { gaps: 0, late: 0, duplicates: 0, requests: 0, repaired: 0 };

  /** @param opts grace and resync interval */
  constructor(opts: SyncGapOptions) {
    this.#o = opts;
  }

  /**
   * Records a sequenced batch and hands it to `deliver` unless it is a duplicate.
   *
   * @param source sender node id
   * @param epoch sender epoch
   * @param seq sync sequence
   * @param flags sync flags
   * @param nowMs clock
   * @param deliver applies the batch; false when it could not (then it counts as missing)
   * @returns what the batch was (or "stale" for an older epoch than the stream's, not delivered)
   */
  batch(
    source: string,
    epoch: number,
    seq: number,
    flags: number,
    nowMs: number,
    deliver: () => boolean,
  ): BatchVerdict | "stale" {
    const s = this.#stream(source, epoch);
    if (!s) return "stale";
    let verdict: BatchVerdict = "new";
    if (seq > s.highest) {
      if (seq > s.highest + 1) this.#addRange(s, s.highest + 1, seq - 1, nowMs);
      s.highest = seq;
    } else if (this.#fill(s, seq)) {
      verdict = "late";
      this.counters.late++;
    } else {
      this.counters.duplicates++;
      return "duplicate";
    }
    if (!deliver()) {
      this.#addRange(s, seq, seq, nowMs);
      return verdict;
    }
    s.received = true;
    if (flags & SYNC_FULL_START) s.full = { start: seq };
    if ((flags & SYNC_FULL_END) && s.full && s.full.start <= seq) s.full.end = seq;
    this.#checkFull(s);
    return verdict;
  }

  /**
   * A MASTER's heartbeat: the last sequence it sent in `epoch`.
   *
   * @param source sender node id
   * @param epoch its sync epoch
   * @param lastSent its last sync sequence (0: none yet)
   * @param nowMs clock
   */
  announced(source: string, epoch: number, lastSent: number, nowMs: number): void {
    const s = this.#stream(source, epoch);
    if (!s || lastSent <= s.highest) return;
    this.#addRange(s, s.highest + 1, lastSent, nowMs);
    s.highest = lastSent;
  }

  /**
   * A resync request to send now to the MASTER this node follows, if it has a gap and the last
   * request is `resyncIntervalMs` old; counts gaps.
   *
   * @param master the MASTER followed (undefined: none)
   * @param nowMs clock
   */
  due(master: string | undefined, nowMs: number): ResyncDue | undefined {
    let out: ResyncDue | undefined;
    for (const [source, s] of this.#streams) {
      for (const r of s.ranges) {
        if (nowMs - r.sinceMs < this.#o.graceMs) continue;
        if (s.full && s.full.start > r.to) continue; // a full table on its way repairs it
        if (!r.counted) {
          r.counted = true;
          this.counters.gaps++;
        }
        if (source !== master) continue;
        const reason = s.received ? "gap" : "no-stream";
        if (!out) out = { target: source, targetEpoch: s.epoch, missingUpTo: r.to, reason };
        else out.missingUpTo = Math.max(out.missingUpTo, r.to);
      }
    }
    if (!out || this.#o.resyncIntervalMs <= 0 || nowMs - this.#lastRequestMs < this.#o.resyncIntervalMs) {
      return undefined;
    }
    this.#lastRequestMs = nowMs;
    this.counters.requests++;
    return out;
  }

  /**
   * Where the stream of `source` stands (a BACKUP's heartbeat reports its MASTER's).
   *
   * @param source node id (undefined: none)
   */
  position(source: string | undefined): SyncPosition {
    const s = source === undefined ? undefined : this.#streams.get(source);
    if (!s) return { epoch: 0, held: 0, highest: 0, missing: 0 };
    let missing = 0;
    for (const r of s.ranges) missing += r.to - r.from + 1;
    return { epoch: s.epoch, held: s.ranges.length ? s.ranges[0].from - 1 : s.highest, highest: s.highest, missing };
  }

  #stream(source: string, epoch: number): Stream | undefined {
    const s = this.#streams.get(source);
    if (s && epoch < s.epoch) return undefined;
    if (s && epoch === s.epoch) return s;
    if (!s && this.#streams.size >= MAX_STREAMS) {
      this.#streams.delete(this.#streams.keys().next().value!);
    }
    const n: Stream = { epoch, highest: 0, ranges: [], received: false };
    this.#streams.set(source, n);
    return n;
  }

  #addRange(s: Stream, from: number, to: number, nowMs: number): void {
    const r = s.ranges;
    let i = r.length;
    while (i > 0 && r[i - 1].from > from) i--;
    r.splice(i, 0, { from, to, sinceMs: nowMs, counted: false });
    if (r.length > MAX_RANGES) {
      const merged: Range = {
        from: r[0].from,
        to: r[r.length - 1].to,
        sinceMs: Math.min(...r.map((x) => x.sinceMs)),
        counted: r.some((x) => x.counted),
      };
      s.ranges = [merged];
    }
  }

  /** Removes `seq` from the missing ranges; false when it was not missing. */
  #fill(s: Stream, seq: number): boolean {
    const r = s.ranges;
    const i = r.findIndex((x) => x.from <= seq && seq <= x.to);
    if (i < 0) return false;
    const x = r[i];
    if (x.from === x.to) r.splice(i, 1);
    else if (seq === x.from) x.from++;
    else if (seq === x.to) x.to--;
    else {
      r.splice(i + 1, 0, { ...x, from: seq + 1 });
      x.to = seq - 1;
    }
    return true;
  }

  #checkFull(s: Stream): void {
    const f = s.full;
    if (!f || f.end === undefined) return;
    if (s.ranges.some((r) => r.to >= f.start && r.from <= f.end!)) return;
    const before = s.ranges.length;
    s.ranges = s.ranges.filter((r) => r.from > f.end!);
    this.counters.repaired += before - s.ranges.length;
    s.full = undefined;
  }
}
