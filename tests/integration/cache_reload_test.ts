/**
 * SIGHUP on a running `webcache cache` (the bundle as a process, two workers): origins and ACLs
 * change in place in every worker, keys that need a restart are logged, a broken config keeps the
 * running one, and logrotate's rename + HUP under continuous load loses and duplicates no line.
 */
import { assert, assertEquals } from "../_assert.ts";
import { spawnWebcache } from "../_bin.ts";
import { request, sleep, TestOrigin } from "./_cache_harness.ts";
import { freePort } from "./_disk_cache_proc.ts";
import { Load, Proc } from "./_ops_cluster.ts";

interface Running {
  proc: Proc;
  port: number;
  file: string;
  log: string;
  config: Record<string, unknown>;
}

function cacheConfig(port: number, adminPort: number, log: string, cache: Record<string, unknown>) {
  return {
    admin: { listen: `127.0.0.1:${adminPort}` },
    log: { level: "info" },
    icp: { enabled: false },
    cache: {
      listen: [{ address: `127.0.0.1:${port}`, mode: "accel" }],
      workers: 2,
      accessLog: log,
      peering: { mode: "none" },
      shutdownDelayMs: 0,
      ...cache,
    },
  };
}

async function start(dir: string, cache: Record<string, unknown>): Promise<Running> {
  const port = freePort();
  const file = `${dir}/appliance.yaml`;
  const log = `${dir}/access.log`;
  const config = cacheConfig(port, freePort(), log, cache);
  await Deno.writeTextFile(file, JSON.stringify(config));
  const proc = new Proc(await spawnWebcache(["cache", "--config", file], { stdout: "null" }));
  await proc.waitLog(/"Cache started"/);
  return { proc, port, file, log, config };
}

/** Sends SIGHUP and waits for the n-th line matching `re`. */
async function hup(r: Running, re: RegExp): Promise<void> {
  const before = r.proc.logs().split("\n").filter((l) => re.test(l)).length;
  r.proc.kill("SIGHUP");
  const deadline = Date.now() + 10_000;
  while (r.proc.logs().split("\n").filter((l) => re.test(l)).length <= before) {
    if (Date.now() > deadline) throw new Error(`No ${re} after SIGHUP:\n${r.proc.logs().slice(-2000)}`);
    await sleep(20);
  }
}

/** Answers of `n` requests, each on its own connection (so both workers answer some). */
async function answers(port: number, n: number, opts: Parameters<typeof request>[2] = {}): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await request(port, `/x?${i}`, { host: "a.example", ...opts });
    out.push(`${r.status} ${r.text}`);
  }
  return out;
}

Deno.test("SIGHUP reloads origins and ACLs in place in every worker; restart-only keys are logged", async () => {
  const one = new TestOrigin(() => new Response("one", { headers: { "cache-control": "no-store" } }));
  const two = new TestOrigin(() => new Response("two", { headers: { "cache-control": "no-store" } }));
  const dir = await Deno.makeTempDir({ prefix: "webcache-reload-" });
  let r: Running | undefined;
  try {
    r = await start(dir, { origins: { "a.example": one.url } });
    assertEquals(new Set(await answers(r.port, 20)), new Set(["200 one"]));
    assertEquals((await request(r.port, "/x", { host: "a.example", method: "PURGE" })).status, 404);

    const cache = r.config.cache as Record<string, unknown>;
    const next = {
      ...r.config,
      cache: {
        ...cache,
        origins: { "a.example": two.url },
        acl: { purge: ["10.0.0.0/8"] },
        listen: [{ address: `127.0.0.1:${freePort()}`, mode: "accel" }],
      },
    };
    await Deno.writeTextFile(r.file, JSON.stringify(next));
    await hup(r, /"Configuration reloaded"/);
    assertEquals(new Set(await answers(r.port, 20)), new Set(["200 two"]), "every worker uses the new origin");
    const purges = await answers(r.port, 20, { method: "PURGE" });
    assertEquals(new Set(purges), new Set([purges[0]]));
    assert(purges[0].startsWith("403"), `PURGE refused by the new ACL in every worker: ${purges[0]}`);
    assert(/"Changed keys need a restart".*cache\.listen/.test(r.proc.logs()), r.proc.logs().slice(-2000));
    assertEquals((await request(r.port, "/x", { host: "a.example" })).text, "two", "still on the old listener");
  } finally {
    r?.proc.kill("SIGTERM");
    const st = await r?.proc.done();
    if (st) assertEquals(st.code, 0);
    await one.close();
    await two.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SIGHUP with a broken config keeps the running one and keeps serving", async () => {
  const one = new TestOrigin(() => new Response("one", { headers: { "cache-control": "no-store" } }));
  const dir = await Deno.makeTempDir({ prefix: "webcache-reload-bad-" });
  let r: Running | undefined;
  try {
    r = await start(dir, { origins: { "a.example": one.url } });
    for (const broken of ["cache: [unclosed\n  - : :", JSON.stringify({ cache: { workers: "many" } })]) {
      await Deno.writeTextFile(r.file, broken);
      await hup(r, /"Reload failed, keeping the running configuration"/);
      await sleep(200);
      assertEquals(new Set(await answers(r.port, 10)), new Set(["200 one"]));
    }
    const exited = await Promise.race([r.proc.status.then(() => true), sleep(300).then(() => false)]);
    assertEquals(exited, false, "still running");
  } finally {
    r?.proc.kill("SIGTERM");
    await r?.proc.done();
    await one.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("logrotate under load: rename then SIGHUP, three times: no access.log line lost or duplicated", async () => {
  const origin = new TestOrigin((req) =>
    new Response(new URL(req.url).search, { headers: { "cache-control": "max-age=60" } })
  );
  const dir = await Deno.makeTempDir({ prefix: "webcache-rotate-" });
  let r: Running | undefined;
  try {
    r = await start(dir, { defaultOrigin: origin.url });
    const port = r.port;
    // Half the URLs repeat (hits), half are new (misses); each request is told apart by `c`.
    const load = new Load({ port, path: (n) => `/o${n % 50}?c=${n}` }, 6, (status) => status === 200);
    for (let i = 1; i <= 3; i++) {
      await sleep(700);
      await Deno.rename(r.log, `${r.log}.${i}`);
      await hup(r, /"Configuration reloaded"/);
    }
    await sleep(700);
    await load.stop();
    r.proc.kill("SIGTERM");
    assertEquals((await r.proc.done()).code, 0);
    r = undefined;
    assertEquals(load.failures, []);
    const lines: string[] = [];
    const files = [`${dir}/access.log`, ...[1, 2, 3].map((i) => `${dir}/access.log.${i}`)];
    const perFile: number[] = [];
    for (const f of files) {
      const got = (await Deno.readTextFile(f)).split("\n").filter((l) => l.length > 0);
      perFile.push(got.length);
      lines.push(...got);
    }
    assert(perFile.every((n) => n > 0), `every file got lines: ${perFile}`);
    const ids = lines.map((l) => /[?&]c=(\d+)/.exec(l)?.[1]);
    assertEquals(lines.length, load.sent, `lines in ${perFile.join("+")} files vs requests sent`);
    assertEquals(new Set(ids).size, load.sent, "no line written twice");
    assert(load.sent > 200, `a real load: ${load.sent} requests`);
  } finally {
    if (r) {
      r.proc.kill("SIGKILL");
      await r.proc.done();
    }
    await origin.close();
    await Deno.remove(dir, { recursive: true });
  }
});
