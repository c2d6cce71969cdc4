/**
 * Helpers for the parser fuzz tests: a seeded PRNG (so any failure can be replayed from the seed
 * and iteration printed with it) and a mutator of HTTP messages that favours the bytes and
 * fragments framing bugs hide behind (CR, LF, whitespace, colons, digits, framing fields).
 *
 * @module
 */

/** A seeded pseudo-random generator (mulberry32): `next()` in [0, 1). */
export class Prng {
  #s: number;
  /** @param seed any 32-bit integer */
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  /** The next number in [0, 1). */
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** One element of a list. */
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)];
  }
}

const TE = new TextEncoder();

/** Single bytes that matter to HTTP/1.1 framing. */
const BYTES = [13, 10, 32, 9, 58, 44, 59, 0, 127, 128, 255, 48, 49, 53, 57, 97, 102, 103, 45, 43, 34, 61];

/** Fragments worth inserting. */
const FRAGMENTS = [
  "\r\n",
  "\n",
  "\r",
  " ",
  "\t",
  ":",
  ",",
  ";",
  "0",
  "-1",
  "ffffffffffff",
  "\r\n\r\n",
  "Content-Length: 0\r\n",
  "Content-Length: 5\r\n",
  "Content-Length: 99999\r\n",
  "Transfer-Encoding: chunked\r\n",
  "Transfer-Encoding: gzip\r\n",
  "Connection: keep-alive\r\n",
  "Expect: 100-continue\r\n",
  "chunked",
  " chunked",
  "HTTP/1.1 200 OK\r\n",
  "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
  "0\r\n\r\n",
  "5\r\nhello\r\n",
  "\x00",
];

/**
 * Applies 1 to 3 random mutations: change, insert or delete bytes, duplicate or cut a range,
 * swap two lines.
 *
 * @param input a valid message
 * @param rng the generator
 * @returns a new mutated copy
 */
export function mutate(input: Uint8Array, rng: Prng): Uint8Array {
  let b = Array.from(input);
  const rounds = 1 + rng.int(3);
  for (let r = 0; r < rounds; r++) {
    const at = rng.int(b.length + 1);
    switch (rng.int(7)) {
      case 0:
        if (b.length) b[Math.min(at, b.length - 1)] = rng.int(256);
        break;
      case 1:
        if (b.length) b[Math.min(at, b.length - 1)] = rng.pick(BYTES);
        break;
      case 2:
        b.splice(at, 0, ...TE.encode(rng.pick(FRAGMENTS)));
        break;
      case 3:
        b.splice(at, 1 + rng.int(8));
        break;
      case 4: {
        const len = 1 + rng.int(16);
        b.splice(at, 0, ...b.slice(at, at + len));
        break;
      }
      case 5:
        b = b.slice(0, at);
        break;
      case 6: {
        const text = String.fromCharCode(...b);
        const lines = text.split("\r\n");
        if (lines.length > 2) {
          const i = rng.int(lines.length);
          const j = rng.int(lines.length);
          [lines[i], lines[j]] = [lines[j], lines[i]];
          b = Array.from(lines.join("\r\n"), (c) => c.charCodeAt(0));
        }
        break;
      }
    }
  }
  return new Uint8Array(b);
}

/**
 * Splits bytes into random pieces (for feeding a parser as a socket would).
 *
 * @param b the bytes
 * @param rng the generator
 * @returns the pieces, in order, none empty
 */
export function randomSplit(b: Uint8Array, rng: Prng): Uint8Array[] {
  const out: Uint8Array[] = [];
  let i = 0;
  while (i < b.length) {
    const n = 1 + rng.int(Math.min(32, b.length - i));
    out.push(b.subarray(i, i + n));
    i += n;
  }
  return out;
}

/** The fuzz seed: `WEBCACHE_FUZZ_SEED` when set (to replay a failure), else a fixed one. */
export function fuzzSeed(fallback: number): number {
  const s = Deno.env.get("WEBCACHE_FUZZ_SEED");
  return s ? Number(s) : fallback;
}
