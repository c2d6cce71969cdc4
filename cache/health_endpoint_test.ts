import { assertEquals } from "../tests/_assert.ts";
import { CACHE_HEALTH_PATH, CacheHealth, dirsCheck, isHealthTarget } from "./health_endpoint.ts";

Deno.test("isHealthTarget() takes the origin-form path with or without a query, nothing else", () => {
  const table: [string, boolean][] = [
    [CACHE_HEALTH_PATH, true],
    [`${CACHE_HEALTH_PATH}?probe=1`, true],
    [`${CACHE_HEALTH_PATH}x`, false],
    [`${CACHE_HEALTH_PATH}/`, false],
    ["/.well-known/webcache", false],
    ["/healthz", false],
    [`http://www.example.org${CACHE_HEALTH_PATH}`, false],
  ];
  for (const [target, want] of table) assertEquals(isHealthTarget(target), want, target);
});

Deno.test("CacheHealth.state(): ok, then draining; a store problem is checked at most once a second", () => {
  let problem: string | undefined = undefined;
  let checks = 0;
  const h = new CacheHealth(() => {
    checks++;
    return problem;
  });
  assertEquals(h.state(1000), { status: "ok" });
  problem = "cache directory /c is gone";
  assertEquals(h.state(1500), { status: "ok" }, "the last check is reused within a second");
  assertEquals(h.state(2000), { status: "store", reason: "cache directory /c is gone" });
  assertEquals(checks, 2);
  h.drain();
  assertEquals(h.state(5000), { status: "draining" });
  assertEquals(h.draining, true);
});

Deno.test("dirsCheck() reports a cache directory that is gone or is not a directory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/file`, "x");
    assertEquals(dirsCheck([dir])(), undefined);
    assertEquals(dirsCheck([])(), undefined);
    assertEquals(dirsCheck([dir, `${dir}/file`])(), `cache directory ${dir}/file is not a directory`);
    assertEquals(dirsCheck([`${dir}/gone`])(), `cache directory ${dir}/gone: NotFound`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
