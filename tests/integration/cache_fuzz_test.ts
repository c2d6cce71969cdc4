/**
 * Parser fuzz over real sockets against `webcache cache` (the bundle, as a process): seeded
 * mutations of valid requests sent by a raw client, then of valid origin responses written by a
 * scripted origin. Every request is either answered 4xx/5xx or forwarded exactly once (the
 * origin counts a unique token per request; a mutation that duplicates the request line may
 * legitimately make two), a client problem never looks like an origin failure (no 502/504 and
 * no origin failure counted while the origin behaves), no answer ever carries another request's
 * response, nothing hangs, and the process stays up with nothing unhandled on stderr. Replay a
 * failure with `WEBCACHE_FUZZ_SEED=<seed>`.
 */
import { assert, assertEquals } from "../_assert.ts";
import { spawnWebcache } from "../_bin.ts";
import { fuzzSeed, mutate, Prng } from "../_fuzz.ts";
import { findHeadEnd, latin1Decode, latin1Encode } from "../../http/head_codec.ts";
import { parseRaw, sleep, writeText } from "./_cache_harness.ts";
import { type Answer, okResponse, ScriptedOrigin } from "./_scripted_origin.ts";

const PHASE_MS = 2500;

/** A whole response an origin appends to desync a reused connection; it must never be served. */
const FORGED = "HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nContent-Length: 6\r\n\r\nFORGED";

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = l.addr.port;
  l.close();
  return p;
}

async function waitHealthy(port: number, child: Deno.ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      await r.body?.cancel();
      if (r.ok) return;
    } catch { /* not yet */ }
    await sleep(50);
  }
  child.kill("SIGKILL");
  const out = await child.output();
  throw new Error(`webcache cache did not start: ${new TextDecoder().decode(out.stderr)}`);
}

/** Sends bytes, half-closes, reads until the cache closes; null when it did not within the limit. */
async function exchange(port: number, data: Uint8Array, limitMs = 4000): Promise<Uint8Array | null> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      conn.close();
    } catch { /* closed */ }
  }, limitMs);
  const got: Uint8Array[] = [];
  try {
    await writeText(conn, data).catch(() => {});
    await conn.closeWrite().catch(() => {});
    const buf = new Uint8Array(65536);
    while (true) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      got.push(buf.slice(0, n));
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed */ }
  }
  if (timedOut) return null;
  const out = new Uint8Array(got.reduce((a, c) => a + c.length, 0));
  let off = 0;
  for (const c of got) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** Final (non-1xx) status codes at the start of each response in a stream. */
function finalStatuses(bytes: Uint8Array): number[] {
  const text = latin1Decode(bytes);
  return [...text.matchAll(/(?:^|\r\n)HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1])).filter((s) => s >= 200);
}

function occurrences(hay: string, needle: string): number {
  let n = 0;
  for (let i = hay.indexOf(needle); i !== -1; i = hay.indexOf(needle, i + 1)) n++;
  return n;
}

const REQUESTS = [
  (t: string) => `GET ${t} HTTP/1.1\r\nHost: fuzz.example\r\nAccept: */*\r\nConnection: close\r\n\r\n`,
  (t: string) => `POST ${t} HTTP/1.1\r\nHost: fuzz.example\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`,
  (t: string) =>
    `POST ${t} HTTP/1.1\r\nHost: fuzz.example\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n3;e=1\r\nabc\r\n0\r\n\r\n`,
  (t: string) => `HEAD ${t} HTTP/1.1\r\nHost: fuzz.example\r\nConnection: close\r\n\r\n`,
  (t: string) =>
    `PUT ${t} HTTP/1.1\r\nHost: fuzz.example\r\nExpect: 100-continue\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc`,
  (t: string) => `GET ${t} HTTP/1.0\r\nHost: fuzz.example\r\n\r\n`,
];

const RESPONSES = [
  (b: string) => okResponse(b, "Cache-Control: max-age=60"),
  (b: string) =>
    `HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: chunked\r\n\r\n${
      b.length.toString(16)
    }\r\n${b}\r\n0\r\n\r\n`,
  (b: string) => `HTTP/1.1 100 Continue\r\n\r\n${okResponse(b, "Cache-Control: max-age=60")}`,
  (_b: string) => "HTTP/1.1 204 No Content\r\nCache-Control: max-age=60\r\n\r\n",
  (_b: string) => 'HTTP/1.1 304 Not Modified\r\nETag: "e"\r\n\r\n',
  (b: string) => `HTTP/1.1 404 Not Found\r\nContent-Length: ${b.length}\r\n\r\n${b}`,
];

Deno.test("cache fuzz: mutated requests and origin responses over sockets against webcache cache", async () => {
  const seed = fuzzSeed(0x5eed00f0);
  const rng = new Prng(seed);
  /** Origin answers of the response phase, by token. */
  const scripted = new Map<string, Answer>();
  const origin = new ScriptedOrigin((req) => {
    const m = /^\/fr\/(\d+)/.exec(req.path);
    if (m && scripted.has(m[1])) return scripted.get(m[1])!;
    return okResponse(`ok ${req.path.slice(0, 40)}`);
  });
  const port = freePort();
  const admin = freePort();
  const dir = await Deno.makeTempDir({ prefix: "wc-fuzz-" });
  await Deno.writeTextFile(
    `${dir}/cache.yaml`,
    [
      "cache:",
      "  client:",
      "    headerTimeoutMs: 1000",
      "    bodyIdleTimeoutMs: 1000",
      "    bodyTimeoutMs: 2000",
      "  origin:",
      "    readTimeoutMs: 700",
      "",
    ].join("\n"),
  );
  const child = await spawnWebcache([
    "cache",
    "--config",
    `${dir}/cache.yaml`,
    "--listen",
    `127.0.0.1:${port}`,
    "--origin",
    origin.url,
    "--workers",
    "1",
    "--admin",
    `127.0.0.1:${admin}`,
    "--log-level",
    "error",
  ], { stdout: "null" });
  let exited = false;
  child.status.then(() => exited = true);
  try {
    await waitHealthy(admin, child);

    // Phase 1: mutated requests; the origin answers every request well.
    let requests = 0;
    const end1 = Date.now() + PHASE_MS;
    for (let i = 0; Date.now() < end1; i++) {
      // A unique token a mutation of another request cannot produce by chance.
      const token = `/fz/${i}-${Array.from({ length: 8 }, () => String.fromCharCode(103 + rng.int(20))).join("")}`;
      const valid = latin1Encode(rng.pick(REQUESTS)(token));
      // Mostly the fields and body; sometimes the request line too.
      const cut = rng.next() < 0.8 ? latin1Decode(valid).indexOf("\r\n") + 2 : 0;
      const input = new Uint8Array([...valid.subarray(0, cut), ...mutate(valid.subarray(cut), rng)]);
      const out = await exchange(port, input);
      const where = `seed ${seed}, request ${i}: ${JSON.stringify(latin1Decode(input))}`;
      assert(out !== null, `no answer in time: ${where}`);
      const statuses = finalStatuses(out);
      const forwarded = origin.seen.filter((s) => s.path.includes(token)).length;
      const text = latin1Decode(input);
      if (statuses.length === 0) assert(/^[\r\n]*$/.test(text) || !text.includes(token), `no response: ${where}`);
      else if (statuses[0] < 300 && text.split("\r\n")[0].includes(`${token} `)) {
        // The first answer is for the first request, the one carrying the token.
        assert(forwarded >= 1, `2xx without reaching the origin: ${where}`);
      }
      assert(forwarded <= Math.max(0, occurrences(text, token)), `forwarded ${forwarded} times: ${where}`);
      assert(forwarded <= statuses.length, `forwarded ${forwarded} times for ${statuses.length} answers: ${where}`);
      for (const s of statuses) {
        assert(s !== 502 && s !== 504, `a client's request blamed on the origin (${s}): ${where}`);
      }
      requests++;
    }
    const metrics1 = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
    assert(!/webcache_cache_origin_failures_total\{[^}]*\} [1-9]/.test(metrics1), "no origin failure counted");

    // Phase 2: mutated origin responses to clean requests.
    const answered: { token: string; forged: boolean; own: Set<string> }[] = [];
    const end2 = Date.now() + PHASE_MS;
    for (let i = 0; Date.now() < end2; i++) {
      const token = String(i);
      const body = `resp-${i}-end`;
      const valid = latin1Encode(rng.pick(RESPONSES)(body));
      // Sometimes a forged response follows, at once or a little later, to desync the pool.
      const forged = rng.next() < 0.3 ? [FORGED] : [];
      const gapMs = rng.int(2) * 30;
      const sent = mutate(valid, rng);
      scripted.set(token, { parts: [sent, ...forged], gapMs, close: rng.next() < 0.3 });
      const out = await exchange(port, latin1Encode(`GET /fr/${token} HTTP/1.1\r\nHost: fuzz.example\r\n\r\n`));
      const where = `seed ${seed}, response ${i}: ${JSON.stringify(latin1Decode(sent))}`;
      assert(out !== null, `no answer in time: ${where}`);
      const got = latin1Decode(out);
      assert(/^HTTP\/1\.1 \d{3} /.test(got), `no status line: ${where}: ${JSON.stringify(got.slice(0, 200))}`);
      // The numbers its own origin answer carries: a mutation may have turned "resp-6-" into "resp-5-".
      const own = new Set([token, ...[...latin1Decode(sent).matchAll(/resp-(\d+)-/g)].map((m) => m[1])]);
      for (const m of got.matchAll(/resp-(\d+)-/g)) {
        assert(own.has(m[1]), `another request's answer (${m[1]}): ${where}`);
      }
      // Its own answer may carry it (a close-delimited body), no other may.
      if (!forged.length) {
        assert(!got.includes("FORGED"), `a forged response was served: ${where}: ${JSON.stringify(got)}`);
      } else if (gapMs) {
        // Late stray bytes must arrive while the connection is idle to be told apart from the next
        // answer (nothing can tell bytes sent before a request arrived from its answer).
        await sleep(gapMs + 50);
      }
      assertEquals(origin.seen.filter((s) => s.path === `/fr/${token}`).length, 1, `forwarded once: ${where}`);
      if (findHeadEnd(out, 0, out.length) !== -1 && parseRaw(out).status === 200) {
        answered.push({ token, forged: forged.length > 0, own });
      }
    }
    // Whatever was stored is the right answer for its own URL.
    for (const a of answered.slice(0, 50)) {
      const out = await exchange(port, latin1Encode(`GET /fr/${a.token} HTTP/1.1\r\nHost: fuzz.example\r\n\r\n`));
      assert(out !== null);
      for (const m of latin1Decode(out).matchAll(/resp-(\d+)-/g)) {
        assert(a.own.has(m[1]), `stored for /fr/${a.token}: another request's answer (${m[1]})`);
      }
      if (!a.forged) assert(!latin1Decode(out).includes("FORGED"), `forged response stored for /fr/${a.token}`);
      else await sleep(100); // a miss gets the stray bytes again: let them arrive while idle
    }

    // The process is up and serves a clean request.
    assert(!exited, "webcache cache exited");
    const ok = parseRaw((await exchange(port, latin1Encode("GET /final HTTP/1.1\r\nHost: fuzz.example\r\n\r\n")))!);
    assertEquals(ok.status, 200);
    assertEquals(ok.text, "ok /final");
    assert(requests > 20, `only ${requests} requests`);
  } finally {
    child.kill("SIGTERM");
    const st = await child.status;
    const stderr = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
    await origin.close();
    await Deno.remove(dir, { recursive: true });
    assertEquals(st.code, 0, stderr);
    assert(!/uncaught|unhandled|panicked/i.test(stderr), stderr);
  }
});
