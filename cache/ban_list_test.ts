import assert from "node:assert/strict";
import type { Ban } from "../cluster/ban_codec.ts";
import { BanList } from "./ban_list.ts";

const HOUR = 3600_000;
const T0 = Date.UTC(2026, 0, 1);
const opts = { lifetimeMs: HOUR, maxBans: 3, maxUrlBans: 2 };
let seq = 0;
const ban = (kind: Ban["kind"], pattern: string, timeMs: number): Ban => ({
  id: `id${++seq}`,
  kind,
  pattern,
  timeMs,
  origin: "c1",
});
const obj = (primary: string, requestTime: number) => ({ primary, variant: "", requestTime });

Deno.test("BanList.banned() matches url, prefix and regex bans only for objects stored before them", () => {
  const cases: { description: string; ban: Ban; url: string; storedAt: number; banned: boolean }[] = [
    {
      description: "url: same URL, older object",
      ban: ban("url", "http://h/a", T0),
      url: "http://h/a",
      storedAt: T0 - 1,
      banned: true,
    },
    {
      description: "url: other URL",
      ban: ban("url", "http://h/a", T0),
      url: "http://h/ab",
      storedAt: T0 - 1,
      banned: false,
    },
    {
      description: "url: object stored at the ban time",
      ban: ban("url", "http://h/a", T0),
      url: "http://h/a",
      storedAt: T0,
      banned: false,
    },
    {
      description: "prefix: under it",
      ban: ban("prefix", "http://h/p/", T0),
      url: "http://h/p/x/y",
      storedAt: T0 - 5,
      banned: true,
    },
    {
      description: "prefix: beside it",
      ban: ban("prefix", "http://h/p/", T0),
      url: "http://h/q/x",
      storedAt: T0 - 5,
      banned: false,
    },
    {
      description: "prefix: newer object",
      ban: ban("prefix", "http://h/p/", T0),
      url: "http://h/p/x",
      storedAt: T0 + 5,
      banned: false,
    },
    {
      description: "regex: matches",
      ban: ban("regex", "\\.css$", T0),
      url: "http://h/a.css",
      storedAt: T0 - 1,
      banned: true,
    },
    {
      description: "regex: does not match",
      ban: ban("regex", "\\.css$", T0),
      url: "http://h/a.js",
      storedAt: T0 - 1,
      banned: false,
    },
  ];
  for (const c of cases) {
    const l = new BanList(opts);
    assert.equal(l.add(c.ban, T0), true, c.description);
    assert.equal(l.banned(obj(c.url, c.storedAt)), c.banned, c.description);
  }
});

Deno.test("BanList.banned() sees a ban added after the object passed the list once", () => {
  const l = new BanList(opts);
  l.add(ban("prefix", "http://h/a/", T0), T0);
  const o = obj("http://h/b/1", T0 - 10);
  assert.equal(l.banned(o), false); // remembered as passed
  assert.equal(l.banned(o), false);
  l.add(ban("regex", "/b/", T0 + 1), T0);
  assert.equal(l.banned(o), true);
});

Deno.test("BanList: an empty list bans nothing and says so", () => {
  const l = new BanList(opts);
  assert.equal(l.empty, true);
  assert.equal(l.banned(obj("http://h/a", 0)), false);
  assert.equal(l.digest(), "");
});

Deno.test("BanList.retire() folds prefix/regex bans past their lifetime into the floor and drops url bans", () => {
  const l = new BanList(opts);
  l.add(ban("prefix", "http://h/p/", T0), T0);
  l.add(ban("url", "http://h/u", T0), T0);
  assert.equal(l.retire(T0 + HOUR - 1), 0);
  assert.equal(l.retire(T0 + HOUR + 1), 2);
  assert.equal(l.size, 0);
  assert.equal(l.floorMs, T0);
  // Everything stored before the retired prefix ban still counts as purged, newer objects do not.
  assert.equal(l.banned(obj("http://h/p/1", T0 - 1)), true);
  assert.equal(l.banned(obj("http://h/other", T0 - 1)), true);
  assert.equal(l.banned(obj("http://h/p/1", T0 + 1)), false);
  // The url ban was dropped without a floor of its own (the floor came from the prefix ban).
  assert.equal(l.banned(obj("http://h/u", T0 + 1)), false);
});

Deno.test("BanList keeps at most maxBans prefix/regex bans and maxUrlBans url bans", () => {
  const l = new BanList(opts);
  for (let i = 0; i < 5; i++) l.add(ban("prefix", `http://h/${i}/`, T0 + i), T0 + 10);
  assert.equal(l.size, 3);
  assert.equal(l.floorMs, T0 + 1); // bans at T0 and T0+1 folded in
  assert.equal(l.banned(obj("http://h/4/x", T0 + 2)), true); // the newest still matches
  assert.equal(l.banned(obj("http://h/0/x", T0 + 2)), false); // the floor is older than this object
  for (let i = 0; i < 4; i++) l.add(ban("url", `http://h/u${i}`, T0 + i), T0 + 10);
  assert.equal(l.size, 5); // 3 prefix + 2 url
  assert.equal(l.banned(obj("http://h/u3", T0 + 2)), true);
  assert.equal(l.banned(obj("http://h/u0", T0 - 5)), true); // under the floor anyway
  assert.equal(l.banned(obj("http://h/u1", T0 + 1)), false); // dropped, and not under the floor
});

Deno.test("BanList.add() ignores a known id and a ban retirement would drop at once", () => {
  const l = new BanList(opts);
  const b = ban("url", "http://h/a", T0);
  assert.equal(l.add(b, T0), true);
  assert.equal(l.add(b, T0), false);
  assert.equal(l.add(ban("url", "http://h/old", T0 - 2 * HOUR), T0), false);
  assert.equal(l.size, 1);
});

Deno.test("BanList.merge() converges to one digest whatever the order, and takes the higher floor", () => {
  const bans = [ban("url", "http://h/a", T0), ban("prefix", "http://h/p/", T0 + 1), ban("regex", "x$", T0 + 2)];
  const a = new BanList(opts);
  const b = new BanList(opts);
  a.merge({ floorMs: 0, bans: [bans[0], bans[1]] }, T0);
  b.merge({ floorMs: 5, bans: [bans[2]] }, T0);
  assert.notEqual(a.digest(), b.digest());
  const added = a.merge(b.snapshot(), T0);
  assert.deepEqual(added.map((x) => x.id), [bans[2].id]);
  b.merge(a.snapshot(), T0);
  assert.equal(a.digest(), b.digest());
  assert.match(a.digest(), /^[0-9a-f]{16}$/);
  assert.equal(a.floorMs, 5);
  assert.deepEqual(a.snapshot(), b.snapshot());
});

Deno.test("BanList.merge() skips a regex this node cannot compile and keeps the rest", () => {
  const l = new BanList(opts);
  const good = ban("prefix", "http://h/", T0);
  const added = l.merge({ floorMs: 0, bans: [ban("regex", "(", T0), good] }, T0);
  assert.deepEqual(added, [good]);
  assert.throws(() => l.add(ban("regex", "[", T0), T0), SyntaxError);
});
