import assert from "node:assert/strict";
import { BanDecodeError } from "../cluster/ban_codec.ts";
import { BAN_FILE_NAME, readBanFile, writeBanFile } from "./ban_file.ts";
import { BanList } from "./ban_list.ts";

Deno.test("writeBanFile() and readBanFile() keep a ban list across a restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wcbans-" });
  try {
    const path = `${dir}/${BAN_FILE_NAME}`;
    assert.equal(await readBanFile(path), undefined); // no file: no purge ever
    const now = Date.now();
    const before = new BanList({ lifetimeMs: 3600_000, maxBans: 10, maxUrlBans: 10 });
    before.add({ id: "a", kind: "prefix", pattern: "http://h/p/", timeMs: now, origin: "c1" }, now);
    before.add({ id: "b", kind: "url", pattern: "http://h/u", timeMs: now + 1, origin: "c2" }, now);
    await writeBanFile(path, before.snapshot());
    await writeBanFile(path, before.snapshot()); // replaces, leaves no temporary file
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [BAN_FILE_NAME]);
    const after = new BanList({ lifetimeMs: 3600_000, maxBans: 10, maxUrlBans: 10 });
    after.merge((await readBanFile(path))!, now);
    assert.equal(after.digest(), before.digest());
    assert.equal(after.banned({ primary: "http://h/p/x", variant: "", requestTime: now - 1 }), true);
    await Deno.writeFile(path, new Uint8Array([1, 2, 3]));
    await assert.rejects(() => readBanFile(path), BanDecodeError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
