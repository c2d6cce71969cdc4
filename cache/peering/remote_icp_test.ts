import assert from "node:assert/strict";
import type { IcpLookup } from "../../icp/client.ts";
import { type PeeringPeer, PeeringSelector } from "./peering_selector.ts";
import { workerSelector } from "./peering_node.ts";
import type { PeeringView } from "./remote_icp.ts";

const req = (url: string, headers: Record<string, string> = {}) => ({
  method: "GET",
  url,
  headers: { get: (n: string) => headers[n] ?? null },
});

const peers: PeeringPeer[] = [1, 2, 3].map((i) => ({
  host: `127.0.0.${i}`,
  httpPort: 3128,
  icpPort: 3130,
  type: "sibling" as const,
}));

function view(over: Partial<PeeringView> = {}): PeeringView {
  return {
    mode: "hash",
    self: "127.0.0.1:3128",
    warmupMs: 0,
    startedAt: Date.now(),
    peers: peers.slice(1),
    up: { "127.0.0.2:3130": true, "127.0.0.3:3130": true },
    ...over,
  };
}

function link() {
  const calls = { lookups: [] as string[], dead: [] as string[] };
  const none: IcpLookup = { decision: { kind: "none" }, outcome: "none", answers: [], expected: 2, waitedMs: 1 };
  return {
    calls,
    link: {
      lookup: (url: string) => {
        calls.lookups.push(url);
        return Promise.resolve(none);
      },
      markDead: (key: string) => calls.dead.push(key),
    },
  };
}

Deno.test("workerSelector() owns the same URLs as the main process's selector, without asking it", async () => {
  const main = new PeeringSelector({ mode: "hash", self: "127.0.0.1:3128" });
  main.setPeers(peers);
  const { calls, link: l } = link();
  const { selector } = workerSelector(l, view());
  for (let i = 0; i < 200; i++) {
    const url = `http://o.example/${i}`;
    assert.deepEqual(await selector.select(url, req(url)), await main.select(url, req(url)), url);
  }
  assert.deepEqual(calls.lookups, [], "no ICP lookups in hash mode");
});

Deno.test("workerSelector() follows liveness from newer views and reports HTTP failures to the main process", async () => {
  const { calls, link: l } = link();
  const { selector, update } = workerSelector(l, view());
  const owned = (dead: string[]) => {
    const s = new PeeringSelector({ mode: "hash", self: "127.0.0.1:3128" });
    s.setPeers(peers.filter((p) => !dead.includes(p.host)));
    return s;
  };
  update(view({ up: { "127.0.0.2:3130": false, "127.0.0.3:3130": true } }));
  const ref = owned(["127.0.0.2"]);
  for (let i = 0; i < 100; i++) {
    const url = `http://o.example/${i}`;
    assert.deepEqual(await selector.select(url, req(url)), await ref.select(url, req(url)));
  }
  selector.peerFailed({ hostname: "127.0.0.3", port: 3128 });
  assert.deepEqual(calls.dead, ["127.0.0.3:3130"]);
  const alone = owned(["127.0.0.2", "127.0.0.3"]);
  for (let i = 0; i < 50; i++) {
    const url = `http://o.example/${i}`;
    assert.deepEqual(await selector.select(url, req(url)), await alone.select(url, req(url)), "dead at once here");
  }
});

Deno.test("workerSelector() sends ICP lookups to the main process (mode icp)", async () => {
  const { calls, link: l } = link();
  const { selector } = workerSelector(l, view({ mode: "icp", self: undefined }));
  const choice = await selector.select("http://o.example/x", req("http://o.example/x"));
  assert.deepEqual(choice, { kind: "origin" });
  assert.deepEqual(calls.lookups, ["http://o.example/x"]);
});

Deno.test("workerSelector() asks ICP while the main process's peering is warming up (hash+icp)", async () => {
  const { calls, link: l } = link();
  const started = workerSelector(l, view({ mode: "hash+icp", warmupMs: 60_000 }));
  const old = workerSelector(l, view({ mode: "hash+icp", warmupMs: 60_000, startedAt: Date.now() - 120_000 }));
  const main = new PeeringSelector({ mode: "hash", self: "127.0.0.1:3128" });
  main.setPeers(peers);
  const mine = Array.from({ length: 100 }, (_, i) => `http://o.example/${i}`).filter((u) =>
    main.owner(u) === main.self
  );
  assert.ok(mine.length > 0);
  await started.selector.select(mine[0], req(mine[0]));
  assert.deepEqual(calls.lookups, [mine[0]], "warming: asks");
  await old.selector.select(mine[0], req(mine[0]));
  assert.equal(calls.lookups.length, 1, "warm: does not ask");
});
