/**
 * "No stack traces, ever": the bundle run as a process with bad configs, bad flags and taken
 * ports. A config error exits 2 naming the key (or flag) and the value; a start failure exits 1
 * with one line naming the address, path or flag. Both roles and check-config.
 */
import { assert, assertEquals, assertStringIncludes } from "../_assert.ts";
import { type RunResult, runWebcache } from "../_bin.ts";

/** The lines of stderr that are not JSON log records. */
function messages(r: RunResult): string[] {
  return r.stderr.split("\n").filter((l) => l.trim() !== "" && !l.startsWith('{"ts"'));
}

/** Asserts the exit code, no stack frame, exactly one message line, holding every `wanted` text. */
function assertFailure(r: RunResult, code: number, ...wanted: string[]): void {
  const lines = messages(r);
  assertEquals(r.code, code, r.stderr);
  assert(!/^\s+at /m.test(r.stderr) && !/Stack backtrace|Uncaught/.test(r.stderr), `a stack trace: ${r.stderr}`);
  assertEquals(lines.length, 1, `one line expected: ${JSON.stringify(lines)}`);
  for (const w of wanted) assertStringIncludes(lines[0], w);
}

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "wc-errors-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const BOMB = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ..."bcdefgh".split("").map((c, i) => `${c}: &${c} [${Array(9).fill(`*${"abcdefgh"[i]}`).join(",")}]`),
].join("\n") + "\n";

const DIRECTOR_SERVICE = "director:\n  services:\n    - vip: 127.0.0.1\n      port: 18080\n      method: proxy\n";

Deno.test("a YAML alias bomb is a config error in check-config, cache and director", async () => {
  await withDir(async (dir) => {
    const file = `${dir}/bomb.yaml`;
    await Deno.writeTextFile(file, BOMB);
    for (const args of [["check-config", file], ["cache", "-c", file], ["director", "-c", file]]) {
      assertFailure(await runWebcache(args), 2, file, "alias");
    }
    await Deno.writeTextFile(file, `x: ${"[".repeat(20000)}${"]".repeat(20000)}\n`);
    assertFailure(await runWebcache(["check-config", file]), 2, file, "invalid YAML");
    // An endless device is read no further than the config size limit.
    assertFailure(await runWebcache(["check-config", "/dev/zero"]), 2, "/dev/zero", "larger than");
  });
});

Deno.test("timeouts above the timer limit (2^31-1 ms) are config errors naming key and value", async () => {
  const cases: [string, string, string][] = [
    ["cluster:\n  probeIntervalMs: 2147483648\n", "cluster.probeIntervalMs", "2147483648"],
    ["cache:\n  client:\n    idleTimeoutMs: 9999999999\n", "cache.client.idleTimeoutMs", "9999999999"],
    ["cache:\n  origin:\n    readTimeoutMs: 1e12\n", "cache.origin.readTimeoutMs", "1000000000000"],
    ["icp:\n  deadPeerMs: 3000000000\n", "icp.deadPeerMs", "3000000000"],
    [
      DIRECTOR_SERVICE + "      health:\n        intervalMs: 2147483648\n",
      "director.services[0].health.intervalMs",
      "2147483648",
    ],
    [
      DIRECTOR_SERVICE + "      persistence:\n        timeoutS: 2147484\n",
      "director.services[0].persistence.timeoutS",
      "2147484",
    ],
    ["director:\n  timeouts:\n    establishedS: 99999999\n", "director.timeouts.establishedS", "99999999"],
  ];
  await withDir(async (dir) => {
    for (const [i, [yaml, key, value]] of cases.entries()) {
      const file = `${dir}/t${i}.yaml`;
      await Deno.writeTextFile(file, yaml);
      assertFailure(await runWebcache(["check-config", file]), 2, `${file}: ${key}: ${value}`, "longest timer");
    }
    // Through a role, too.
    const file = `${dir}/t0.yaml`;
    assertFailure(await runWebcache(["director", "-c", file]), 2, "cluster.probeIntervalMs: 2147483648");
    assertFailure(await runWebcache(["cache", "-c", file]), 2, "cluster.probeIntervalMs: 2147483648");
  });
});

Deno.test("absurd sizes, an invalid icp.listen and non-numeric flags are config errors", async () => {
  const cases: [string, string][] = [
    ["cache:\n  memory:\n    maxBytes: 1e300\n", "cache.memory.maxBytes: 1e+300 is above the maximum"],
    ["cache:\n  maxHeaderBytes: 1TiB\n", 'cache.maxHeaderBytes: "1TiB" is above the maximum'],
    ["cache:\n  maxObjectBytes: 5000PiB\n", "cache.maxObjectBytes"],
    ['icp:\n  listen: "999.1.2.3"\n', 'icp.listen: "999.1.2.3" is not an IP address'],
    ['icp:\n  listen: "not an address"\n', 'icp.listen: "not an address" is not an IP address'],
  ];
  await withDir(async (dir) => {
    for (const [i, [yaml, want]] of cases.entries()) {
      const file = `${dir}/s${i}.yaml`;
      await Deno.writeTextFile(file, yaml);
      assertFailure(await runWebcache(["check-config", file]), 2, want);
      if (i === 3) assertFailure(await runWebcache(["cache", "-c", file]), 2, want);
    }
  });
  assertFailure(await runWebcache(["cache", "--workers", "abc"]), 2, '--workers: cache.workers: "abc"');
  assertFailure(await runWebcache(["cache", "--icp-port", "x1"]), 2, '--icp-port: icp.port: "x1"');
  assertFailure(
    await runWebcache(["director", "--service", "127.0.0.1:18080", "--method", "proxy", "--persistence", "abc"]),
    2,
    '"abc"',
    "timeoutS",
  );
});

Deno.test("taken ports and a missing access-log directory: exit 1 with one line naming the address or path", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const takenUdp = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = taken.addr.port;
  const udp = (takenUdp.addr as Deno.NetAddr).port;
  const free = () => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const p = l.addr.port;
    l.close();
    return String(p);
  };
  const quiet = ["--log-level", "error"];
  try {
    const cacheArgs =
      () => ["cache", ...quiet, "--workers", "1", "--icp-port", free(), "--listen", `127.0.0.1:${free()}`];
    assertFailure(
      await runWebcache([...cacheArgs(), "--admin", `127.0.0.1:${port}`]),
      1,
      `127.0.0.1:${port}`,
      "admin.listen",
    );
    assertFailure(
      await runWebcache([
        "cache",
        ...quiet,
        "--workers",
        "1",
        "--listen",
        `127.0.0.1:${port}`,
        "--admin",
        `127.0.0.1:${free()}`,
      ]),
      1,
      `127.0.0.1:${port}`,
      "cache.listen",
    );
    assertFailure(
      await runWebcache([...cacheArgs(), "--admin", `127.0.0.1:${free()}`, "--access-log", "/nonexistent-dir/x/a.log"]),
      1,
      "/nonexistent-dir/x/a.log",
      "cache.accessLog",
    );
    await withDir(async (dir) => {
      const file = `${dir}/g.yaml`;
      await Deno.writeTextFile(
        file,
        `cluster:\n  insecure: true\n  gossipListen: 127.0.0.1:${udp}\n  peers: [127.0.0.1:1]\n` + DIRECTOR_SERVICE,
      );
      assertFailure(
        await runWebcache([...cacheArgs(), "-c", file, "--admin", `127.0.0.1:${free()}`]),
        1,
        `127.0.0.1:${udp}`,
        "cluster.gossipListen",
      );
      assertFailure(
        await runWebcache(["director", ...quiet, "-c", file, "--admin", `127.0.0.1:${free()}`]),
        1,
        `127.0.0.1:${udp}`,
        "cluster.gossipListen",
      );
    });
    // An address this host does not have (TEST-NET-1): a start failure too, not a config error.
    await withDir(async (dir) => {
      const file = `${dir}/na.yaml`;
      await Deno.writeTextFile(
        file,
        "cluster:\n  insecure: true\n  gossipListen: 192.0.2.1:7946\n  peers: [127.0.0.1:1]\n",
      );
      assertFailure(
        await runWebcache([...cacheArgs(), "-c", file, "--admin", `127.0.0.1:${free()}`]),
        1,
        "192.0.2.1:7946",
        "cluster.gossipListen",
      );
    });
    assertFailure(
      await runWebcache([...cacheArgs(), "--admin", "192.0.2.1:9090"]),
      1,
      "192.0.2.1:9090",
      "admin.listen",
    );
    const director = (admin: string, svc: string) => [
      "director",
      ...quiet,
      "--admin",
      admin,
      "--service",
      svc,
      "--method",
      "proxy",
      "--listen",
      "127.0.0.1",
      "--real",
      "127.0.0.1:9",
    ];
    assertFailure(
      await runWebcache(director(`127.0.0.1:${port}`, `127.0.0.1:${free()}`)),
      1,
      `127.0.0.1:${port}`,
      "admin.listen",
    );
    assertFailure(
      await runWebcache(director(`127.0.0.1:${free()}`, `127.0.0.1:${port}`)),
      1,
      `127.0.0.1:${port}`,
    );
  } finally {
    taken.close();
    takenUdp.close();
  }
});
