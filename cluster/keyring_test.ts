import assert from "node:assert/strict";
import { decodeKey, EnvelopeError, Keyring, parseKeyFile, resolveClusterKeys } from "./keyring.ts";

const key = () => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
const data = new TextEncoder().encode("hello gossip");

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof EnvelopeError, String(e));
    return e.reason;
  }
  return "opened";
}

Deno.test("Keyring.seal() and open() round-trip with AES-GCM and a fresh nonce each time", async () => {
  const k = await Keyring.create([key()], "c1");
  const a = await k.seal(data);
  const b = await k.seal(data);
  assert.notDeepEqual(a, b);
  assert.equal(a[0], 1);
  assert.equal(a.length, 1 + 12 + data.length + 16);
  assert.deepEqual(await k.open(a), data);
});

Deno.test("Keyring.open() drops foreign keys, foreign cluster names, tampering and mode mismatches", async () => {
  const k1 = key();
  const ring = await Keyring.create([k1], "c1");
  const sealed = await ring.seal(data);
  const tampered = sealed.slice();
  tampered[20] ^= 1;
  const clear = await (await Keyring.create([], "c1")).seal(data);
  const cases: { description: string; open: () => Promise<unknown>; reason: string }[] = [
    { description: "wrong key", open: async () => (await Keyring.create([key()], "c1")).open(sealed), reason: "auth" },
    {
      description: "other cluster name",
      open: async () => (await Keyring.create([k1], "c2")).open(sealed),
      reason: "auth",
    },
    { description: "flipped bit", open: () => ring.open(tampered), reason: "auth" },
    { description: "truncated", open: () => ring.open(sealed.slice(0, 20)), reason: "short" },
    { description: "empty", open: () => ring.open(new Uint8Array()), reason: "short" },
    { description: "unknown version", open: () => ring.open(Uint8Array.of(7, 1, 2)), reason: "version" },
    { description: "clear message to a keyed node", open: () => ring.open(clear), reason: "unencrypted" },
    {
      description: "sealed message to an insecure node",
      open: async () => (await Keyring.create([], "c1")).open(sealed),
      reason: "encrypted",
    },
    {
      description: "clear message of another cluster",
      open: async () => (await Keyring.create([], "c2")).open(clear),
      reason: "cluster",
    },
  ];
  for (const c of cases) assert.equal(await reason(c.open()), c.reason, c.description);
});

Deno.test("Keyring opens messages sealed with any key of the ring (rotation)", async () => {
  const oldKey = key();
  const newKey = key();
  const oldNode = await Keyring.create([oldKey], "c");
  const rotating = await Keyring.create([newKey, oldKey], "c");
  assert.deepEqual(await rotating.open(await oldNode.seal(data)), data);
  // sealed with the primary (new) key, which the old node cannot open
  assert.equal(await reason(oldNode.open(await rotating.seal(data))), "auth");
});

Deno.test("decodeKey() rejects bad base64 and bad lengths", () => {
  assert.throws(() => decodeKey("!!!"), SyntaxError);
  assert.throws(() => decodeKey(btoa("short")), /5 bytes is not 16, 24 or 32/);
  assert.equal(decodeKey(btoa("x".repeat(16))).length, 16);
});

Deno.test("resolveClusterKeys() prefers --cluster-key-file, then keyFile, secretKey, environment", async () => {
  const [a, b, c, d] = [key(), key(), key(), key()];
  const file = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(file, `# primary first\n${a}\n\n${b}  # old\n`);
    assert.deepEqual(parseKeyFile(await Deno.readTextFile(file)), [a, b]);
    assert.deepEqual(await resolveClusterKeys({ keyFileFlag: file, secretKey: c, env: d }), [a, b]);
    assert.deepEqual(await resolveClusterKeys({ keyFile: file, secretKey: c }), [a, b]);
    assert.deepEqual(await resolveClusterKeys({ secretKey: c, env: d, keyRing: [a] }), [c, a]);
    assert.deepEqual(await resolveClusterKeys({ env: d }), [d]);
    assert.deepEqual(await resolveClusterKeys({}), []);
    await Deno.writeTextFile(file, "# nothing\n");
    await assert.rejects(resolveClusterKeys({ keyFile: file }), /holds no key/);
    await assert.rejects(resolveClusterKeys({ keyFile: file + ".missing" }), /Cannot read cluster key file/);
    await assert.rejects(resolveClusterKeys({ secretKey: "abc" }), RangeError);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("Keyring.open() drops a replayed message and one outside the replay window", async () => {
  const k = key();
  let now = Date.UTC(2026, 10, 26, 12, 0, 0);
  const clock = () => now;
  const sender = await Keyring.create([k], "c", { now: clock });
  const receiver = await Keyring.create([k], "c", { replayWindowMs: 60_000, now: clock });
  const first = await sender.seal(data);
  assert.equal(
    (first[1] * 2 ** 40 + first[2] * 2 ** 32 + first[3] * 2 ** 24) + (first[4] << 16 | first[5] << 8 | first[6]),
    now,
    "the nonce starts with the sender's clock",
  );
  assert.deepEqual(await receiver.open(first), data);
  assert.equal(await reason(receiver.open(first)), "replay", "the same datagram a second time");
  assert.equal(await reason(receiver.open(first.slice())), "replay", "a copy of it");

  const old = await sender.seal(data);
  now += 60_001; // captured a minute ago, played back now
  assert.equal(await reason(receiver.open(old)), "stale");
  const fresh = await sender.seal(data);
  assert.deepEqual(await receiver.open(fresh), data);

  // A sender whose clock runs ahead by more than the window.
  const ahead = await Keyring.create([k], "c", { now: () => now + 61_000 });
  assert.equal(await reason(receiver.open(await ahead.seal(data))), "stale");
  // ... and within it.
  const skewed = await Keyring.create([k], "c", { now: () => now + 59_000 });
  assert.deepEqual(await receiver.open(await skewed.seal(data)), data);

  // The nonce's time is authenticated: rewriting it fails authentication, not the time check.
  const forged = (await sender.seal(data)).slice();
  forged[6] ^= 1;
  assert.equal(await reason(receiver.open(forged)), "auth");
});

Deno.test("Keyring forgets nonces once the window rejects them anyway", async () => {
  const k = key();
  let now = 1_800_000_000_000;
  const ring = await Keyring.create([k], "c", { replayWindowMs: 1000, now: () => now });
  for (let i = 0; i < 50; i++) await ring.open(await ring.seal(data));
  assert.equal(ring.rememberedNonces, 50);
  now += 1001;
  await ring.open(await ring.seal(data));
  assert.equal(ring.rememberedNonces, 1);
});

Deno.test("Keyring with replayWindowMs 0 accepts repeats (checks off)", async () => {
  const ring = await Keyring.create([key()], "c", { replayWindowMs: 0 });
  const m = await ring.seal(data);
  assert.deepEqual(await ring.open(m), data);
  assert.deepEqual(await ring.open(m), data);
});
