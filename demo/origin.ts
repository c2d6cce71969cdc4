/**
 * The demo's origin server: a few thousand cacheable objects of mixed sizes at `/obj/<n>`
 * (n = 1..objects), the same bytes for the same seed on every run, and a request counter the demo
 * summary quotes.
 *
 * | path            | answer                                                                  |
 * |-----------------|-------------------------------------------------------------------------|
 * | `/obj/<n>`      | 200 with `Cache-Control: public, max-age=…`, `ETag`, `Last-Modified`;   |
 * |                 | 304 for a matching `If-None-Match` / `If-Modified-Since`; HEAD works    |
 * | `/_origin/stats`| JSON {@link OriginStats} (not counted as a request)                     |
 * | anything else   | 404 (counted)                                                           |
 *
 * Object sizes come from a seeded mix that resembles web traffic: 70% small (512 B-16 KiB),
 * 25% medium (16-128 KiB) and 5% large (128-512 KiB), about 30 KiB on average.
 *
 * @module
 */
import { getLogger } from "../core/log.ts";
import { seededRandom } from "./random.ts";

const log = getLogger("demo.origin");

/** Path of the statistics endpoint. */
export const ORIGIN_STATS_PATH = "/_origin/stats";
/** Largest object the size mix produces, in bytes. */
export const MAX_OBJECT_BYTES = 512 * 1024;

/** Options of {@link DemoOrigin}. */
export interface OriginOptions {
  /** Address to listen on; default 127.0.0.1. */
  hostname?: string;
  /** Port; default 0 (ephemeral). */
  port?: number;
  /** Number of objects (1..1,000,000); default 3000. */
  objects?: number;
  /** Seed of sizes and contents; default 1. */
  seed?: number;
  /** Freshness lifetime sent in `Cache-Control: max-age`, seconds; default 3600. */
  maxAgeS?: number;
  /** Stops the server when aborted. */
  signal?: AbortSignal;
}

/** What the origin has served (what a cache array saves it is what the demo shows). */
export interface OriginStats {
  /** Requests answered (all paths except the stats endpoint). */
  requests: number;
  /** Responses by status code. */
  byStatus: Record<string, number>;
  /** Body bytes sent. */
  bytes: number;
  /** Distinct objects requested at least once. */
  distinctObjects: number;
  /** Number of objects the origin holds. */
  objects: number;
  /** Sum of all object sizes, bytes. */
  totalObjectBytes: number;
}

/**
 * Computes the size of every object for a seed (pure).
 *
 * @param objects number of objects
 * @param seed the seed
 * @returns sizes in bytes, index 0 is object 1
 */
export function objectSizes(objects: number, seed: number): Uint32Array {
  if (!Number.isInteger(objects) || objects < 1 || objects > 1_000_000) {
    throw new RangeError(`Cannot build origin: object count ${objects} is not an integer in 1-1000000`);
  }
  const rnd = seededRandom(seed);
  const sizes = new Uint32Array(objects);
  // Log-uniform within each class so small sizes are as common as large ones inside a class.
  const logUniform = (lo: number, hi: number) => Math.round(Math.exp(Math.log(lo) + rnd() * Math.log(hi / lo)));
  for (let i = 0; i < objects; i++) {
    const c = rnd();
    sizes[i] = c < 0.70 ? logUniform(512, 16 * 1024) : c < 0.95 ? logUniform(16 * 1024, 128 * 1024) : logUniform(
      128 * 1024,
      MAX_OBJECT_BYTES,
    );
  }
  return sizes;
}

/** An HTTP origin serving the demo's objects. Start with {@link DemoOrigin.start}. */
export class DemoOrigin {
  readonly #opts: Required<Omit<OriginOptions, "signal">> & { signal?: AbortSignal };
  readonly #sizes: Uint32Array;
  readonly #pool: Uint8Array<ArrayBuffer>;
  readonly #seen = new Set<number>();
  readonly #byStatus: Record<string, number> = {};
  readonly #lastModified: string;
  #requests = 0;
  #bytes = 0;
  #server?: Deno.HttpServer<Deno.NetAddr>;

  /**
   * Builds the origin (objects are computed, nothing is served until start()).
   *
   * @param opts address, object count, seed, freshness
   * @throws {RangeError} for an object count out of range
   */
  constructor(opts: OriginOptions = {}) {
    this.#opts = {
      hostname: opts.hostname ?? "127.0.0.1",
      port: opts.port ?? 0,
      objects: opts.objects ?? 3000,
      seed: opts.seed ?? 1,
      maxAgeS: opts.maxAgeS ?? 3600,
      signal: opts.signal,
    };
    this.#sizes = objectSizes(this.#opts.objects, this.#opts.seed);
    // Bodies are windows into one pool of printable pseudo-random bytes: distinct per object, no copies.
    const rnd = seededRandom(this.#opts.seed ^ 0x5eed);
    this.#pool = new Uint8Array(2 * MAX_OBJECT_BYTES);
    for (let i = 0; i < this.#pool.length; i++) this.#pool[i] = (i % 64 === 63) ? 10 : 33 + Math.floor(rnd() * 94);
    this.#lastModified = new Date(Date.UTC(2026, 0, 1) + (this.#opts.seed % 1000) * 60_000).toUTCString();
  }

  /** Number of objects. */
  get objects(): number {
    return this.#opts.objects;
  }

  /** Size of object `n` (1-based) in bytes, or undefined when there is no such object. */
  objectSize(n: number): number | undefined {
    return Number.isInteger(n) && n >= 1 && n <= this.#sizes.length ? this.#sizes[n - 1] : undefined;
  }

  /** The body of object `n` (a view, do not modify). */
  objectBody(n: number): Uint8Array<ArrayBuffer> {
    const size = this.objectSize(n);
    if (size === undefined) throw new RangeError(`Cannot read object ${n}: not in 1-${this.#sizes.length}`);
    const offset = (n * 7919) % (this.#pool.length - size);
    return this.#pool.subarray(offset, offset + size);
  }

  /** The strong validator of object `n`. */
  etag(n: number): string {
    return `"${this.#opts.seed.toString(36)}-${n}-${this.objectSize(n)}"`;
  }

  /** Counters so far. */
  stats(): OriginStats {
    let total = 0;
    for (const s of this.#sizes) total += s;
    return {
      requests: this.#requests,
      byStatus: { ...this.#byStatus },
      bytes: this.#bytes,
      distinctObjects: this.#seen.size,
      objects: this.#sizes.length,
      totalObjectBytes: total,
    };
  }

  /** The bound address once started. */
  get addr(): Deno.NetAddr {
    if (!this.#server) throw new Error("Cannot read address: origin not started");
    return this.#server.addr;
  }

  /**
   * Starts listening.
   *
   * @throws {Deno.errors.AddrInUse} when the port is taken
   */
  start(): this {
    this.#server = Deno.serve({
      hostname: this.#opts.hostname,
      port: this.#opts.port,
      signal: this.#opts.signal,
      onListen: () => {},
    }, (req) => this.#handle(req));
    log.info("Origin listening", {
      listen: `${this.addr.hostname}:${this.addr.port}`,
      objects: this.#sizes.length,
    });
    return this;
  }

  /** Stops the server and waits for open requests to finish. */
  async stop(): Promise<void> {
    await this.#server?.shutdown();
  }

  #count(status: number, bytes: number): void {
    this.#requests++;
    this.#bytes += bytes;
    this.#byStatus[status] = (this.#byStatus[status] ?? 0) + 1;
  }

  #handle(req: Request): Response {
    const path = new URL(req.url).pathname;
    if (path === ORIGIN_STATS_PATH) return Response.json(this.stats());
    const m = /^\/obj\/(\d{1,7})$/.exec(path);
    const n = m ? Number(m[1]) : 0;
    const size = this.objectSize(n);
    if (size === undefined || (req.method !== "GET" && req.method !== "HEAD")) {
      const status = size === undefined ? 404 : 405;
      this.#count(status, 0);
      return new Response(status === 404 ? "no such object\n" : "method not allowed\n", {
        status,
        headers: { "content-type": "text/plain", "cache-control": "no-store" },
      });
    }
    this.#seen.add(n);
    const etag = this.etag(n);
    const headers = new Headers({
      "content-type": "application/octet-stream",
      "cache-control": `public, max-age=${this.#opts.maxAgeS}`,
      "etag": etag,
      "last-modified": this.#lastModified,
      "date": new Date().toUTCString(),
    });
    const inm = req.headers.get("if-none-match");
    const ims = req.headers.get("if-modified-since");
    const notModified = inm !== null
      ? inm.split(",").some((t) => t.trim().replace(/^W\//, "") === etag || t.trim() === "*")
      : ims !== null && Date.parse(ims) >= Date.parse(this.#lastModified);
    if (notModified) {
      this.#count(304, 0);
      return new Response(null, { status: 304, headers });
    }
    headers.set("content-length", String(size));
    if (req.method === "HEAD") {
      this.#count(200, 0);
      return new Response(null, { status: 200, headers });
    }
    this.#count(200, size);
    return new Response(this.objectBody(n), { status: 200, headers });
  }
}
