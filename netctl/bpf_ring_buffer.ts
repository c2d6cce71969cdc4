/**
 * The user-space side of a `BPF_MAP_TYPE_RINGBUF` map: a single-consumer reader over the map's memory, as
 * libbpf's `ring_buffer__consume()` does, without a wake-up (the reader is drained from a loop that wakes up
 * anyway; programs write with `BPF_RB_NO_WAKEUP`).
 *
 * Memory (the kernel's layout, `kernel/bpf/ringbuf.c`), page size P, data size N (a power of two):
 *
 * ```text
 * mmap offset 0, P bytes, read-write:   +0 u64 consumer position (written by us)
 * mmap offset P, P + 2N bytes, read-only: +0 u64 producer position | page P.. data, mapped twice in a row so a
 *                                         record that wraps reads contiguously
 * record at data[pos mod N]: +0 u32 length (bit 31 busy: being written; bit 30 discarded) | +4 u32 page offset
 *                            | +8 the record's bytes; the next record starts at pos + round_up(8 + length, 8)
 * ```
 *
 * @module
 */
import { errno, libc, OsError } from "./_libc.ts";

const PAGE_BYTES = 4096;
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const RINGBUF_BUSY_BIT = 0x8000_0000;
const RINGBUF_DISCARD_BIT = 0x4000_0000;
/** Bytes of a record's header. */
export const RINGBUF_HEADER_BYTES = 8;

/** A reader of one ring buffer map (see module doc). */
export class BpfRingBuffer {
  readonly #size: number;
  readonly #consumerPtr: Deno.PointerObject;
  readonly #producerPtr: Deno.PointerObject;
  readonly #consumer: DataView;
  readonly #producer: DataView;
  readonly #data: DataView;
  #closed = false;

  private constructor(size: number, consumerPtr: Deno.PointerObject, producerPtr: Deno.PointerObject) {
    this.#size = size;
    this.#consumerPtr = consumerPtr;
    this.#producerPtr = producerPtr;
    this.#consumer = new DataView(Deno.UnsafePointerView.getArrayBuffer(consumerPtr, PAGE_BYTES));
    const all = Deno.UnsafePointerView.getArrayBuffer(producerPtr, PAGE_BYTES + 2 * size);
    this.#producer = new DataView(all, 0, PAGE_BYTES);
    this.#data = new DataView(all, PAGE_BYTES, 2 * size);
  }

  /**
   * Maps a ring buffer map's memory.
   *
   * @param mapFd the map
   * @param sizeBytes its `max_entries` (data bytes, a power of two and a multiple of the page size)
   * @throws {OsError} when mmap fails
   */
  static open(mapFd: number, sizeBytes: number): BpfRingBuffer {
    const c = libc();
    const consumer = c.mmap(null, BigInt(PAGE_BYTES), PROT_READ | PROT_WRITE, MAP_SHARED, mapFd, 0n);
    if (!consumer || Deno.UnsafePointer.value(consumer) === 0xffff_ffff_ffff_ffffn) {
      throw new OsError("Cannot map a BPF ring buffer's consumer page", errno());
    }
    const producer = c.mmap(null, BigInt(PAGE_BYTES + 2 * sizeBytes), PROT_READ, MAP_SHARED, mapFd, BigInt(PAGE_BYTES));
    if (!producer || Deno.UnsafePointer.value(producer) === 0xffff_ffff_ffff_ffffn) {
      const e = errno();
      c.munmap(consumer, BigInt(PAGE_BYTES));
      throw new OsError("Cannot map a BPF ring buffer's data", e);
    }
    return new BpfRingBuffer(sizeBytes, consumer, producer);
  }

  /**
   * Reads every committed record (up to `max`) and releases its space.
   *
   * @param onRecord called with the data view and the record's offset and length in it
   * @param max most records to read in this call
   * @returns records read (discarded ones not counted)
   */
  drain(onRecord: (data: DataView, offset: number, length: number) => void, max = 65536): number {
    if (this.#closed) return 0;
    const mask = this.#size - 1;
    // Positions are u64; below 2^53 bytes a Number holds them exactly.
    let cons = Number(this.#consumer.getBigUint64(0, true));
    const prod = Number(this.#producer.getBigUint64(0, true));
    let n = 0;
    while (cons < prod && n < max) {
      const off = cons & mask;
      const len = this.#data.getUint32(off, true);
      if (len & RINGBUF_BUSY_BIT) break;
      const bytes = len & ~(RINGBUF_BUSY_BIT | RINGBUF_DISCARD_BIT);
      if (!(len & RINGBUF_DISCARD_BIT)) {
        onRecord(this.#data, off + RINGBUF_HEADER_BYTES, bytes);
        n++;
      }
      cons += (RINGBUF_HEADER_BYTES + bytes + 7) & ~7;
      this.#consumer.setBigUint64(0, BigInt(cons), true);
    }
    return n;
  }

  /** Unmaps the memory (the map itself belongs to its owner). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    libc().munmap(this.#consumerPtr, BigInt(PAGE_BYTES));
    libc().munmap(this.#producerPtr, BigInt(PAGE_BYTES + 2 * this.#size));
  }
}
