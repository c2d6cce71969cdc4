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
