import { assertEquals } from "../tests/_assert.ts";
import { validateConfig } from "../config/mod.ts";
import { cacheReloadHandles, cacheRestartKeys } from "./_cache_reload.ts";

Deno.test("cacheReloadHandles() covers origins, ACLs, freshness, memory, log and weight; cache.peers only with peering", () => {
  const table: [string, boolean, boolean][] = [
    ["cache.origins.www.example.org", false, true],
    ["cache.defaultOrigin", false, true],
    ["cache.acl.purge", false, true],
    ["cache.heuristicPercent", false, true],
    ["cache.refreshPatterns", false, true],
    ["cache.staleIfErrorS", false, true],
    ["cache.memory.maxBytes", false, true],
    ["cache.accessLog", false, true],
    ["cache.weight", false, true],
    ["log.components.icp", false, true],
    ["cache.peers", true, true],
    ["cache.peers", false, false],
    ["cache.listen", false, false],
    ["cache.workers", false, false],
    ["cache.store.dirs", false, false],
    ["cache.originsX", false, false],
  ];
  for (const [path, peering, want] of table) assertEquals(cacheReloadHandles(path, peering), want, path);
});

Deno.test("cacheRestartKeys() lists the changed keys a reload cannot apply", () => {
  const boot = validateConfig({ cache: { origins: { "a.example": "http://127.0.0.1:8001" } } });
  const next = validateConfig({
    cache: {
      origins: { "a.example": "http://127.0.0.1:8002" },
      workers: 4,
      acl: { purge: ["10.0.0.0/8"] },
      listen: [{ address: "0.0.0.0:8080" }],
    },
    log: { level: "debug" },
  });
  assertEquals(cacheRestartKeys(boot, next), ["cache.listen", "cache.workers"]);
  assertEquals(cacheRestartKeys(boot, boot), []);
});
