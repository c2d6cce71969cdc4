/**
 * Fuzz of the HTTP/1.1 codecs (`head_codec.ts`, `chunked.ts`) and of `ConnReader` over them:
 * seeded mutations of valid requests, responses and chunked bodies. Each input must either parse
 * into a value that keeps the codec's promises or be rejected with `HttpParseError` (never another
 * exception), and the result must not depend on how the bytes were split into reads (a parser
 * whose answer depends on packet boundaries is a desync waiting to happen). Replay a failure
 * with `WEBCACHE_FUZZ_SEED=<seed>`; each part stops after its time budget.
 */
import { assert, assertEquals } from "../tests/_assert.ts";
import { fuzzSeed, mutate, Prng, randomSplit } from "../tests/_fuzz.ts";
import { ChunkedDecoder, encodeChunk, LAST_CHUNK } from "./chunked.ts";
import { type ByteSource, ConnReader } from "./conn_reader.ts";
import {
  contentLength,
  findHeadEnd,
  HttpParseError,
  isToken,
  latin1Decode,
  latin1Encode,
  parseRequestHead,
  parseResponseHead,
  requestFraming,
  responseFraming,
  serializeRequestHead,
  serializeResponseHead,
} from "./head_codec.ts";

const BUDGET_MS = 700;
const MAX_ITERATIONS = 20_000;

const REQUESTS = [
  "GET /a?b=c HTTP/1.1\r\nHost: example.org\r\nAccept: */*\r\nUser-Agent: fuzz\r\n\r\n",
  "POST /up HTTP/1.1\r\nHost: example.org\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
  "POST /up HTTP/1.1\r\nHost: example.org\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n",
  "GET http://example.org/abs HTTP/1.1\r\nHost: example.org\r\nConnection: keep-alive\r\n\r\n",
  "HEAD / HTTP/1.0\r\nX-A: 1\r\n\r\n",
  "PUT /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\nExpect: 100-continue\r\n\r\nabc",
];

const RESPONSES = [
  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nCache-Control: max-age=60\r\n\r\nhello",
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
  'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n',
  "HTTP/1.1 204 No Content\r\n\r\n",
  "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close",
  "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
];

const CHUNKED = [
  "5\r\nhello\r\n0\r\n\r\n",
  'a;ext="q v"\r\n0123456789\r\n1\r\nx\r\n0\r\nTrailer: v\r\nOther: w\r\n\r\n',
  "0\r\n\r\nGET /next HTTP/1.1\r\n",
  "3 ;a\r\nabc\r\n000\r\n\r\n",
];

/** Runs `body(rng, i)` for each iteration until the budget is spent; names seed and iteration on failure. */
function fuzz(name: string, seed: number, body: (rng: Prng, i: number) => void): number {
  const rng = new Prng(seed);
  const end = performance.now() + BUDGET_MS;
  let i = 0;
  for (; i < MAX_ITERATIONS && performance.now() < end; i++) {
    try {
      body(rng, i);
    } catch (e) {
      throw new Error(`${name}: seed ${seed}, iteration ${i}: ${(e as Error).message}`, { cause: e });
    }
  }
  return i;
}

/** Calls `fn`; an `HttpParseError` is a valid outcome (undefined), anything else is rethrown. */
function orReject<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (e instanceof HttpParseError) {
      assert([400, 431, 501, 505].includes(e.status), `status ${e.status}`);
      return undefined;
    }
    throw e;
  }
}

function checkFields(fields: [string, string][]): void {
  for (const [k, v] of fields) {
    assert(isToken(k) && k === k.toLowerCase(), `field name ${JSON.stringify(k)}`);
    // deno-lint-ignore no-control-regex -- control characters are what is checked
    assert(!/[\x00-\x08\x0a-\x1f\x7f]/.test(v), `field value ${JSON.stringify(v)}`);
    assert(v === v.trim() || !/^[ \t]|[ \t]$/.test(v), `untrimmed value ${JSON.stringify(v)}`);
  }
}

Deno.test("codec fuzz: mutated request heads parse into valid heads or throw HttpParseError", () => {
  const seed = fuzzSeed(0x5eed0001);
  const n = fuzz("request heads", seed, (rng) => {
    const input = mutate(latin1Encode(rng.pick(REQUESTS)), rng);
    const end = findHeadEnd(input, 0, input.length);
    const headBytes = end === -1 ? input : input.subarray(0, end);
    const head = orReject(() => parseRequestHead(headBytes));
    if (!head) return;
    assert(isToken(head.method));
    // deno-lint-ignore no-control-regex -- control characters are what is checked
    assert(head.target.length > 0 && !/[\s\x00-\x1f\x7f]/.test(head.target));
    checkFields(head.headers.fields);
    if (head.minor === 1) assertEquals(head.headers.getAll("host").length, 1);
    const framing = orReject(() => requestFraming(head));
    if (framing?.kind === "chunked") assertEquals(head.headers.getAll("content-length").length, 0);
    if (framing?.kind === "length") assertEquals(contentLength(head.headers, "request"), framing.length);
    // What the proxy would send on (always HTTP/1.1, so Host is needed) parses back to the same head.
    if (!head.headers.has("host")) return;
    const again = parseRequestHead(latin1Encode(serializeRequestHead(head.method, head.target, head.headers.fields)));
    assertEquals([again.method, again.target, again.headers.fields], [head.method, head.target, head.headers.fields]);
  });
  assert(n > 100, `only ${n} iterations`);
});

Deno.test("codec fuzz: mutated response heads parse into valid heads or throw HttpParseError", () => {
  const seed = fuzzSeed(0x5eed0002);
  const n = fuzz("response heads", seed, (rng) => {
    const input = mutate(latin1Encode(rng.pick(RESPONSES)), rng);
    const end = findHeadEnd(input, 0, input.length);
    const head = orReject(() => parseResponseHead(end === -1 ? input : input.subarray(0, end)));
    if (!head) return;
    assert(head.status >= 0 && head.status <= 999);
    checkFields(head.headers.fields);
    for (const method of ["GET", "HEAD"]) {
      const framing = orReject(() => responseFraming(head, method));
      if (!framing) continue;
      if (method === "HEAD") assertEquals(framing.kind, "none");
      if (framing.kind === "length") assertEquals(contentLength(head.headers, "response"), framing.length);
      if (framing.kind === "chunked") assertEquals(head.headers.getAll("content-length").length, 0);
    }
    const again = parseResponseHead(latin1Encode(serializeResponseHead(head.status, head.headers.fields, head.reason)));
    assertEquals([again.status, again.headers.fields], [head.status, head.headers.fields]);
  });
  assert(n > 100, `only ${n} iterations`);
});

/** Decodes pieces; the outcome as a comparable value. */
function decodeChunked(pieces: Uint8Array[]): { data: string; done: boolean; rest: string } | "rejected" {
  const d = new ChunkedDecoder();
  let data = "";
  let rest = "";
  let done = false;
  for (const p of pieces) {
    if (done) {
      rest += latin1Decode(p);
      continue;
    }
    const r = orReject(() => d.push(p));
    if (!r) return "rejected";
    data += r.data.map(latin1Decode).join("");
    if (r.done) {
      done = true;
      rest += latin1Decode(r.rest);
    }
  }
  return { data, done, rest };
}

Deno.test("codec fuzz: mutated chunked bodies decode the same however they are split, or are rejected", () => {
  const seed = fuzzSeed(0x5eed0003);
  const n = fuzz("chunked", seed, (rng) => {
    const input = mutate(latin1Encode(rng.pick(CHUNKED)), rng);
    const whole = decodeChunked([input]);
    const split = decodeChunked(randomSplit(input, rng));
    assertEquals(split, whole);
    if (whole !== "rejected") assert(whole.data.length + whole.rest.length <= input.length);
    // Encoding random data always decodes back to it.
    const data = new Uint8Array(rng.int(40)).map(() => rng.int(256));
    const enc = new Uint8Array([...encodeChunk(data), ...LAST_CHUNK]);
    assertEquals(decodeChunked(randomSplit(enc, rng)), { data: latin1Decode(data), done: true, rest: "" });
  });
  assert(n > 100, `only ${n} iterations`);
});

/** A connection double that hands out fixed pieces, then end of stream. */
class Pieces implements ByteSource {
  #pieces: Uint8Array[];
  constructor(pieces: Uint8Array[]) {
    this.#pieces = pieces.map((p) => p.slice());
  }
  read(p: Uint8Array): Promise<number | null> {
    const next = this.#pieces[0];
    if (!next) return Promise.resolve(null);
    const n = Math.min(p.length, next.length);
    p.set(next.subarray(0, n));
    if (n === next.length) this.#pieces.shift();
    else this.#pieces[0] = next.subarray(n);
    return Promise.resolve(n);
  }
}

/** Reads requests off a connection as the server does; the sequence of outcomes. */
async function serveAll(src: ByteSource): Promise<string[]> {
  const reader = new ConnReader(src);
  const out: string[] = [];
  for (let k = 0; k < 8; k++) {
    try {
      const bytes = await reader.readHead(4096);
      if (bytes === null) {
        out.push("eof");
        break;
      }
      const head = parseRequestHead(bytes);
      const framing = requestFraming(head);
      let body = "";
      for await (const c of reader.body(framing)) body += latin1Decode(c);
      out.push(`${head.method} ${head.target} [${body}]`);
    } catch (e) {
      if (!(e instanceof HttpParseError)) throw e;
      out.push(`error ${e.status}`);
      break;
    }
  }
  return out;
}

Deno.test("codec fuzz: ConnReader finds the same requests in a mutated stream however it arrives", async () => {
  const seed = fuzzSeed(0x5eed0004);
  const rng = new Prng(seed);
  const end = performance.now() + BUDGET_MS;
  let i = 0;
  for (; i < MAX_ITERATIONS && performance.now() < end; i++) {
    const stream = mutate(latin1Encode(rng.pick(REQUESTS) + rng.pick(REQUESTS)), rng);
    const whole = await serveAll(new Pieces([stream]));
    const split = await serveAll(new Pieces(randomSplit(stream, rng)));
    assertEquals(split, whole, `seed ${seed}, iteration ${i}: ${JSON.stringify(latin1Decode(stream))}`);
  }
  assert(i > 100, `only ${i} iterations`);
});
