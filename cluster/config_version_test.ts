import assert from "node:assert/strict";
import {
  compareVersions,
  type ConfigVersion,
  isNewerConfig,
  nextVersion,
  readVersionFile,
  startupVersion,
  versionFileOf,
  writeVersionFile,
} from "./config_version.ts";

Deno.test("compareVersions() orders by counter, then by hash", () => {
  const cases: { a: ConfigVersion; b: ConfigVersion; sign: number }[] = [
    { a: { version: 2, hash: "00" }, b: { version: 1, hash: "ff" }, sign: 1 },
    { a: { version: 1, hash: "ff" }, b: { version: 2, hash: "00" }, sign: -1 },
    { a: { version: 3, hash: "bb" }, b: { version: 3, hash: "aa" }, sign: 1 },
    { a: { version: 3, hash: "aa" }, b: { version: 3, hash: "bb" }, sign: -1 },
    { a: { version: 3, hash: "aa" }, b: { version: 3, hash: "aa" }, sign: 0 },
  ];
  for (const c of cases) assert.equal(Math.sign(compareVersions(c.a, c.b)), c.sign, JSON.stringify(c));
});

Deno.test("isNewerConfig(): every node picks the same winner of a tie, and version 0 is never taken", () => {
  const x = { version: 5, hash: "3f2a9c0e1b7d4a55" };
  const y = { version: 5, hash: "a0b1c2d3e4f50617" };
  // Two nodes changed their config at once: exactly one of them takes the other's.
  assert.equal(isNewerConfig(y, x), true);
  assert.equal(isNewerConfig(x, y), false);
  assert.equal(isNewerConfig(x, x), false);
  assert.equal(isNewerConfig({ version: 6, hash: "00" }, y), true);
  assert.equal(isNewerConfig({ version: 4, hash: "ff" }, y), false);
  // Unpublished configs (a fresh node from an old template) never spread, whatever their hash.
  assert.equal(isNewerConfig({ version: 0, hash: "ffff" }, { version: 0, hash: "0000" }), false);
  assert.equal(isNewerConfig({ version: 1, hash: "0000" }, { version: 0, hash: "ffff" }), true);
});

Deno.test("nextVersion() is one above everything seen, so a published change wins", () => {
  assert.equal(nextVersion(0, []), 1);
  assert.equal(nextVersion(3, [1, 2]), 4);
  assert.equal(nextVersion(3, [7, 2]), 8);
});

Deno.test("startupVersion(): unchanged file keeps its counter, an offline edit is one more, none is 0", () => {
  assert.equal(startupVersion(undefined, "aa"), 0);
  assert.equal(startupVersion({ version: 4, hash: "aa" }, "aa"), 4);
  assert.equal(startupVersion({ version: 4, hash: "aa" }, "bb"), 5);
});

Deno.test("writeVersionFile() and readVersionFile() keep the counter across restarts; bad files throw", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wccl-ver-" });
  try {
    const file = versionFileOf(`${dir}/appliance.yaml`);
    assert.equal(file, `${dir}/appliance.yaml.version`);
    assert.equal(await readVersionFile(file), undefined);
    await writeVersionFile(file, { version: 9, hash: "0123456789abcdef" });
    assert.deepEqual(await readVersionFile(file), { version: 9, hash: "0123456789abcdef" });
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["appliance.yaml.version"], "no temp file left");
    await Deno.writeTextFile(file, "nine");
    await assert.rejects(readVersionFile(file), SyntaxError);
    await Deno.writeTextFile(file, '{"version": -1, "hash": "x"}');
    await assert.rejects(readVersionFile(file), /expected \{"version": N/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
