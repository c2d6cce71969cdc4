import { assert, assertEquals, assertStringIncludes, assertThrows } from "../tests/_assert.ts";
import { ConfigError, loadConfig, parseYaml, validateConfig } from "./mod.ts";

const ROOT = new URL("../", import.meta.url).pathname;

Deno.test("loadConfig() parses every section of the example appliance.yaml", async () => {
  const cfg = await loadConfig(`${ROOT}appliance.yaml`);
  assertEquals(cfg.cluster.name, "campus-cache");
  assertEquals(cfg.cluster.peers, "auto");
  assertEquals(cfg.cluster.discovery.group, "239.255.77.46");
  assertEquals(cfg.admin.listen, "127.0.0.1:9090");
  assertEquals(cfg.log.components["lb.health"], "info");
  assertEquals(cfg.director.vipMode, "arp");
  assertEquals(cfg.director.timeouts.establishedS, 900);
  assertEquals(cfg.director.services.length, 2);
  const web = cfg.director.services[0];
  assertEquals([web.vip, web.port, web.scheduler, web.method], ["10.10.0.100", 80, "wlc", "dr"]);
  assertEquals(web.persistence, { timeoutS: 300, netmask: 32 });
  assertEquals(web.reals[1], { address: "10.10.0.12", weight: 1, upperThreshold: 5000 });
  assertEquals(web.health.type, "http");
  assertEquals(web.health.fall, 3);
  assertEquals(cfg.director.services[1].transparent, true);
  assertEquals(cfg.cache.listen.map((l) => l.mode), ["accel", "forward"]);
  assertEquals(cfg.cache.origins["www.example.org"], "http://10.20.0.5:8080");
  assertEquals(cfg.cache.maxObjectBytes, 64 * 1024 * 1024);
  assertEquals(cfg.cache.memory.maxBytes, 512 * 1024 * 1024);
  assertEquals(cfg.cache.store.dirs[0], {
    type: "ufs",
    path: "/var/cache/webcache/d1",
    size: 20 * 1024 ** 3,
    l1: 16,
    l2: 256,
    slotBytes: 16 * 1024,
    ways: 8,
  });
  assertEquals(cfg.cache.store.policy, "sieve");
  assertEquals(cfg.cache.peers[0].type, "sibling");
  assertEquals(cfg.cache.peering.mode, "icp");
  assertEquals(cfg.icp.port, 3130);
  assertEquals(cfg.icp.multicast.group, "239.255.77.47");
  assert(Object.isFrozen(cfg.director.services[0].reals));
});

Deno.test("validateConfig() fills every default for an empty document", () => {
  const cfg = validateConfig(null);
  assertEquals(cfg.admin.listen, "127.0.0.1:9090");
  assertEquals(cfg.admin.allow, ["127.0.0.0/8", "::1/128"]);
  assertEquals(cfg.cluster.gossipListen, "0.0.0.0:7946");
  assertEquals(cfg.cluster.insecure, false);
  assertEquals(cfg.director.services, []);
  assertEquals(cfg.cache.acl.forward, ["127.0.0.0/8", "::1/128"]);
  assertEquals(cfg.icp.timeoutMs, 2000);
  assertEquals(cfg.cache.client.bodyIdleTimeoutMs, 30000);
  assertEquals(cfg.cache.client.bodyTimeoutMs, 300000);
  assertEquals(cfg.cache.store.mapFiles, true);
});

/** Bad configurations and the exact message each must give. */
const BAD: { description: string; yaml: string; message: string }[] = [
  {
    description: "bad YAML syntax",
    yaml: "cluster:\n  name: [unclosed\n",
    message: "bad.yaml: invalid YAML: line 3, column 1:",
  },
  {
    description: "an unknown key, with a suggestion",
    yaml: "admin:\n  lisen: 127.0.0.1:9090\n",
    message: 'bad.yaml: admin.lisen: unknown key (did you mean "listen"?)',
  },
  {
    description: "an unknown top-level section",
    yaml: "directors: {}\n",
    message: 'bad.yaml: directors: unknown key (did you mean "director"?)',
  },
  {
    description: "a wrong type",
    yaml: "icp:\n  port: three\n",
    message: 'bad.yaml: icp.port: "three" is a string, expected number',
  },
  {
    description: "an out-of-range port",
    yaml: "director:\n  services:\n    - vip: 10.0.0.1\n      port: 70000\n",
    message: "bad.yaml: director.services[0].port: 70000 is above the maximum 65535",
  },
  {
    description: "an unknown scheduler",
    yaml: "director:\n  services:\n    - vip: 10.0.0.1\n      scheduler: rrr\n",
    message:
      'bad.yaml: director.services[0].scheduler: "rrr" is not one of rr, wrr, lc, wlc, sed, nq, lblc, lblcr, dh, sh, mh',
  },
  {
    description: "a duplicate VIP",
    yaml: "director:\n  services:\n    - vip: 10.0.0.1\n      port: 80\n    - vip: 10.0.0.1\n      port: 80\n",
    message: "bad.yaml: director.services[1]: duplicate virtual service 10.0.0.1:80 (also services[0])",
  },
  {
    description: "a service without VIP that is not transparent",
    yaml: "director:\n  services:\n    - port: 80\n",
    message: "bad.yaml: director.services[0].vip: is required unless transparent is true",
  },
  {
    description: "a bad endpoint",
    yaml: "admin:\n  listen: localhost\n",
    message: 'bad.yaml: admin.listen: "localhost" is not HOST:PORT',
  },
  {
    description: "a bad CIDR in an ACL",
    yaml: "cache:\n  acl:\n    forward: [10.0.0.0/33]\n",
    message: 'bad.yaml: cache.acl.forward[0]: "10.0.0.0/33": prefix /33 is longer than 32',
  },
  {
    description: "a bad size",
    yaml: "cache:\n  memory:\n    maxBytes: 12QB\n",
    message: 'bad.yaml: cache.memory.maxBytes: "12QB" is not a size such as 512MiB or 1GiB',
  },
  {
    description: "a non-http(s) origin",
    yaml: "cache:\n  defaultOrigin: ftp://example.org/\n",
    message: 'bad.yaml: cache.defaultOrigin: "ftp://example.org/" is not an http:// or https:// URL',
  },
  {
    description: "a TLS listener that also expects a PROXY header",
    yaml:
      "cache:\n  listen:\n    - address: 0.0.0.0:443\n      proxyProtocol: true\n      tls: {cert: c.pem, key: k.pem}\n",
    message: "bad.yaml: cache.listen[0].proxyProtocol: PROXY protocol before TLS is not supported (Deno has no " +
      "server-side startTls); use a plain listener",
  },
  {
    description: "mapFiles that is not a boolean",
    yaml: "cache:\n  store:\n    mapFiles: 'yes'\n",
    message: 'bad.yaml: cache.store.mapFiles: "yes" is a string, expected boolean',
  },
  {
    description: "watermarks the wrong way round",
    yaml: "cache:\n  store:\n    lowWatermark: 0.97\n    highWatermark: 0.9\n",
    message: "bad.yaml: cache.store.lowWatermark: 0.97 is above highWatermark 0.9",
  },
  {
    description: "a request body timeout beyond Deno's timer limit",
    yaml: "cache:\n  client:\n    bodyTimeoutMs: 2147483648\n",
    message: "bad.yaml: cache.client.bodyTimeoutMs: 2147483648 ms is above 2147483647 (2^31-1 ms, about 24.8 days)",
  },
  {
    description: "a refresh pattern that is not a regular expression",
    yaml: "cache:\n  refreshPatterns:\n    - { regex: 'a(b', minS: 0, percent: 20, maxS: 60 }\n",
    message:
      'bad.yaml: cache.refreshPatterns[0].regex: "a(b" is not a regular expression: Invalid regular expression: /a(b/: Unterminated group',
  },
  {
    description: "a refresh pattern whose min is above its max",
    yaml: "cache:\n  refreshPatterns:\n    - { regex: '.', minS: 600, percent: 20, maxS: 60 }\n",
    message: "bad.yaml: cache.refreshPatterns[0].minS: 600 is above maxS 60",
  },
  {
    description: "a targeted cache-control name that is not a field name",
    yaml: "cache:\n  targetedCacheControl: ['CDN Cache Control']\n",
    message: 'bad.yaml: cache.targetedCacheControl[0]: "CDN Cache Control" is not in the expected format',
  },
  {
    description: "a negative weight",
    yaml:
      "director:\n  services:\n    - vip: 10.0.0.1\n      reals:\n        - address: 10.0.0.2\n          weight: -1\n",
    message: "bad.yaml: director.services[0].reals[0].weight: -1 is below the minimum 0",
  },
  {
    description: "a rock cache directory smaller than one set",
    yaml: "cache:\n  store:\n    dirs:\n      - { type: rock, path: /tmp/r, size: 64KiB }\n",
    message: "bad.yaml: cache.store.dirs[0].size: 65536 bytes hold less than one set of 8 slots of 16384 bytes",
  },
  {
    description: "an unknown cache directory type",
    yaml: "cache:\n  store:\n    dirs:\n      - { type: coss, path: /tmp/r, size: 1GiB }\n",
    message: 'bad.yaml: cache.store.dirs[0].type: "coss" is not one of ufs, rock',
  },
  {
    description: "a document that is a list",
    yaml: "- a\n- b\n",
    message: "bad.yaml: the document is not a mapping",
  },
  {
    description: "a duplicate key",
    yaml: "icp:\n  port: 1\n  port: 2\n",
    message: "bad.yaml: invalid YAML: line 3, column 3: Map keys must be unique",
  },
];

for (const c of BAD) {
  Deno.test(`validateConfig() rejects ${c.description} with its key path and value`, () => {
    const e = assertThrows(() => validateConfig(parseYaml(c.yaml, "bad.yaml"), { source: "bad.yaml" }), ConfigError);
    assertStringIncludes(e.message, c.message);
  });
}

Deno.test("validateConfig() applies command-line overrides over the file and names the flag in errors", () => {
  const raw = parseYaml("admin:\n  listen: 127.0.0.1:9090\ncluster:\n  peers: [10.0.0.1:7946]\n", "f.yaml");
  const cfg = validateConfig(raw, {
    source: "f.yaml",
    overrides: [
      { path: ["admin", "listen"], value: "127.0.0.1:9191", flag: "--admin" },
      { path: ["cluster", "peers"], value: "auto", flag: "--peers" },
    ],
  });
  assertEquals(cfg.admin.listen, "127.0.0.1:9191");
  assertEquals(cfg.cluster.peers, "auto");
  const e = assertThrows(
    () =>
      validateConfig(raw, {
        source: "f.yaml",
        overrides: [{ path: ["log", "level"], value: "loud", flag: "--log-level" }],
      }),
    ConfigError,
  );
  assertStringIncludes(e.message, '--log-level: log.level: "loud" is not one of debug, info, warn, error, silent');
});

Deno.test("loadConfig() reports a missing file by name", async () => {
  try {
    await loadConfig("/nonexistent/appliance.yaml");
    throw new Error("expected a ConfigError");
  } catch (e) {
    assert(e instanceof ConfigError);
    assertEquals(e.message, "/nonexistent/appliance.yaml: cannot read config: file not found");
  }
});

Deno.test("validateConfig() bounds every duration key by the longest timer (2^31-1 ms)", () => {
  const raw = {
    director: {
      services: [{
        vip: "10.0.0.1",
        port: 80,
        reals: [{ address: "10.0.0.2", port: 80 }],
        persistence: { timeoutS: 1 },
      }],
    },
  };
  const cfg = validateConfig(raw, { source: "t" });
  const keys: (string | number)[][] = [];
  const walk = (v: unknown, path: (string | number)[]) => {
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
    else if (v && typeof v === "object") { for (const [k, x] of Object.entries(v)) walk(x, [...path, k]); }
    else if (typeof v === "number" && /(Ms|[a-z]S)$/.test(String(path.at(-1)))) keys.push(path);
  };
  walk(cfg, []);
  assert(keys.length >= 30, `${keys.length} duration keys found`);
  for (const path of keys) {
    const seconds = String(path.at(-1)).endsWith("S");
    // Freshness and ban-age bounds in seconds, not timers.
    if (["heuristicMaxS", "staleIfErrorS", "banLifetimeS"].includes(String(path.at(-1)))) continue;
    const value = seconds ? Math.floor((2 ** 31 - 1) / 1000) + 1 : 2 ** 31;
    // Either the timer limit itself or a tighter maximum of the key.
    const e = assertThrows(
      () => validateConfig(raw, { source: "t", overrides: [{ path, value, flag: "--x" }] }),
      ConfigError,
    );
    assert(new RegExp(`: ${value}( m?s)? is above`).test(e.message), e.message);
  }
});

Deno.test("parseYaml() refuses an alias bomb and absurd nesting as ConfigError", () => {
  const bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' +
    "bcdefg".split("").map((c, i) => `${c}: &${c} [${Array(9).fill(`*${"abcdefg"[i]}`).join(",")}]`).join("\n");
  assertThrows(() => parseYaml(bomb, "bomb.yaml"), ConfigError, "bomb.yaml: invalid YAML: aliases expand to too many");
  assertThrows(
    () => parseYaml(`x: ${"[".repeat(20000)}${"]".repeat(20000)}`, "deep.yaml"),
    ConfigError,
    "invalid YAML",
  );
  assertEquals(parseYaml("a: &a [1]\nb: *a\n", "ok.yaml"), { a: [1], b: [1] });
});

Deno.test("validateConfig() refuses cluster timings whose suspicion timers exceed the longest timer", () => {
  assertThrows(
    () => validateConfig({ cluster: { probeIntervalMs: 20_000_000 } }, { source: "t" }),
    ConfigError,
    "t: cluster.probeIntervalMs: 20000000 ms with suspicionMult 4 and suspicionMaxTimeoutMult 6 gives suspicion timers",
  );
  assertThrows(
    () => validateConfig({ cluster: { suspicionMult: 1e12 } }, { source: "t" }),
    ConfigError,
    "1000000000000",
  );
});
