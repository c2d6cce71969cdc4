import { assertEquals, assertRejects } from "../tests/_assert.ts";
import { Collapser, Inflight, MAX_UNREAD_BYTES } from "./inflight.ts";

const head = {
  kind: "response" as const,
  status: 200,
  reason: "OK",
  headers: [],
  vary: [],
  variant: "",
  shareable: true,
};
const chunk = (s: string) => new TextEncoder().encode(s);

async function readAll(it: AsyncIterable<Uint8Array>): Promise<string> {
  let s = "";
  for await (const c of it) s += new TextDecoder().decode(c);
  return s;
}

Deno.test("Inflight gives every reader the whole body, also readers that join late", async () => {
  const f = new Inflight();
  const early = readAll(f.read());
  f.setHead(head);
  await f.push(chunk("a"));
  await f.push(chunk("b"));
  const late = readAll(f.read());
  await f.push(chunk("c"));
  f.finish();
  assertEquals(await early, "abc");
  assertEquals(await late, "abc");
  assertEquals(f.bytes, 3);
});

Deno.test("Inflight waitHead() times out and reports failures to readers", async () => {
  const f = new Inflight();
  assertEquals(await f.waitHead(10), undefined);
  const reader = readAll(f.read());
  f.fail(new Error("origin reset"));
  assertEquals(await f.waitHead(10), undefined);
  await assertRejects(() => reader, Error, "origin reset");
});

Deno.test("Inflight without retention applies back-pressure to the fetch and drops read chunks", async () => {
  const f = new Inflight();
  f.retainAll = false;
  const slot = f.reserve();
  f.setHead(head);
  let pushed = 0;
  const big = new Uint8Array(MAX_UNREAD_BYTES / 2 + 1);
  const producer = (async () => {
    for (let i = 0; i < 4; i++) {
      await f.push(big);
      pushed++;
    }
    f.finish();
  })();
  await new Promise((r) => setTimeout(r, 20));
  assertEquals(pushed < 4, true, "the producer waits for the reader");
  let got = 0;
  for await (const c of f.read(slot)) got += c.length;
  await producer;
  assertEquals(got, big.length * 4);
});

Deno.test("Collapser hands out the fetch in progress until it is released", () => {
  const c = new Collapser();
  const f = c.lead("k");
  assertEquals(c.get("k"), f);
  f.retainAll = false;
  assertEquals(c.get("k"), undefined, "not shareable any more");
  c.release("k", f);
  assertEquals(c.size, 0);
});
